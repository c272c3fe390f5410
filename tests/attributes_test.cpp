#define BOOST_TEST_MODULE attributes
#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

#include "prela/attributes.hpp"

using prela::attribute_value;

BOOST_AUTO_TEST_CASE(common_cpp_types_convert_to_the_expected_alternative) {
  BOOST_TEST(std::holds_alternative<std::int64_t>(attribute_value(42).variant()));
  BOOST_TEST(std::holds_alternative<std::int64_t>(attribute_value(42U).variant()));
  BOOST_TEST(std::holds_alternative<std::int64_t>(attribute_value(std::size_t{7}).variant()));
  BOOST_TEST(std::holds_alternative<std::int64_t>(attribute_value(short{3}).variant()));
  BOOST_TEST(std::holds_alternative<double>(attribute_value(1.5).variant()));
  BOOST_TEST(std::holds_alternative<double>(attribute_value(1.5F).variant()));
  BOOST_TEST(std::holds_alternative<bool>(attribute_value(true).variant()));
  // const char* must become a string, never a bool.
  BOOST_TEST(std::holds_alternative<std::string>(attribute_value("text").variant()));
  const char* p = "pointer";
  BOOST_TEST(std::get<std::string>(attribute_value(p).variant()) == "pointer");
  BOOST_TEST(std::get<std::string>(attribute_value(std::string_view("view")).variant()) == "view");
  BOOST_TEST(std::get<std::string>(attribute_value(std::string("str")).variant()) == "str");
  BOOST_TEST(std::get<std::string>(attribute_value(static_cast<const char*>(nullptr)).variant()).empty());
}

BOOST_AUTO_TEST_CASE(arrays) {
  const attribute_value ints = std::vector<int>{1, 2, 3};
  BOOST_TEST((std::get<std::vector<std::int64_t>>(ints.variant()) == std::vector<std::int64_t>{1, 2, 3}));
  const attribute_value strings = {"a", "b"};
  BOOST_TEST((std::get<std::vector<std::string>>(strings.variant()) == std::vector<std::string>{"a", "b"}));
  const attribute_value doubles = std::vector<double>{0.5};
  BOOST_TEST(std::get<std::vector<double>>(doubles.variant()).size() == 1U);
  const attribute_value bools = std::vector<bool>{true, false};
  BOOST_TEST(std::get<std::vector<bool>>(bools.variant()).size() == 2U);
}

BOOST_AUTO_TEST_CASE(braced_attribute_lists) {
  const prela::attributes attrs{{"model", "gpt-4"}, {"tokens", 42}, {"temperature", 0.2}, {"stream", false}};
  BOOST_TEST(attrs.size() == 4U);
  BOOST_TEST(attrs[0].key == "model");
  BOOST_TEST(prela::to_string(attrs[1].value) == "42");
  BOOST_TEST(prela::to_string(attrs[3].value) == "false");
  BOOST_TEST(prela::to_string(attribute_value({"x", "y"})) == "[x, y]");
}
