// A config struct's fields, described once: the JSON name and the member
// pointer of each, in the order they are read. Reading (with the unknown-field
// check), equality and the restart-only comparison in gateway_config.cpp walk
// the description, and tests/unit/config_readme_test.cpp compares it with the
// struct's members and with the README's config table: a new field is one
// entry in its struct's description plus its README row, and a test says
// when either is missing.
//
// A struct is described by BOOST_DESCRIBE_STRUCT when its JSON names are its
// member names, or else by a `config_fields(const T*)` function, found by
// argument-dependent lookup, that returns a tuple of config_field entries.
// Only listed members are config: a member left out (GatewayConfig's
// source_file) is neither read, compared nor documented.
#pragma once

#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <boost/describe/members.hpp>
#include <boost/mp11/algorithm.hpp>

namespace orasi {

/// One entry of a hand-written description: the field's JSON name and its
/// member.
template <class T, class M>
struct config_field {
  const char* name;
  M T::*pointer;
};

template <class T, class M>
config_field(const char*, M T::*) -> config_field<T, M>;

namespace detail {

template <class T, class = void>
struct has_field_table : std::false_type {};

template <class T>
struct has_field_table<
    T, std::void_t<decltype(config_fields(static_cast<const T*>(nullptr)))>>
    : std::true_type {};

} // namespace detail

/// True for a struct with a description; other types are values.
template <class T>
constexpr bool has_config_fields_v =
    detail::has_field_table<T>::value ||
    boost::describe::has_describe_members<T>::value;

/// Calls `f(name, member_pointer)` for each described field of T, in order.
template <class T, class F>
void for_each_config_field(F&& f) {
  static_assert(has_config_fields_v<T>, "T has no config description");
  if constexpr (detail::has_field_table<T>::value) {
    std::apply([&](auto... field) { (f(field.name, field.pointer), ...); },
               config_fields(static_cast<const T*>(nullptr)));
  } else {
    using members =
        boost::describe::describe_members<T, boost::describe::mod_public>;
    boost::mp11::mp_for_each<members>(
        [&](auto member) { f(member.name, member.pointer); });
  }
}

/// Whether T describes a field with this JSON name.
template <class T>
bool has_config_field(std::string_view name) {
  bool found = false;
  for_each_config_field<T>(
      [&](const char* field, auto) { found = found || name == field; });
  return found;
}

/// Field by field for described structs (nested ones by their fields),
/// operator== for values.
template <class T>
bool config_equal(const T& a, const T& b) {
  if constexpr (has_config_fields_v<T>) {
    bool equal = true;
    for_each_config_field<T>([&](const char*, auto member) {
      equal = equal && config_equal(a.*member, b.*member);
    });
    return equal;
  } else {
    return a == b;
  }
}

} // namespace orasi
