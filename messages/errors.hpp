// The project's error category. Inside actors errors travel as caf::error
// with category "orasi"; the facade turns them into orasi::GatewayError.
#pragma once

#include <string>

#include <caf/atom.hpp>
#include <caf/error.hpp>

#include "messages/errc.hpp"

namespace orasi {

/// The atom that names our error category.
constexpr caf::atom_value error_category = caf::atom("orasi");

/// An error of our category carrying a human-readable message that names the
/// thing at fault (a config path, a URL, a key).
caf::error make_error(errc code, std::string message);

/// True if `err` belongs to our category.
bool is_orasi_error(const caf::error& err);

/// The message passed to make_error, or CAF's rendering for foreign errors.
std::string error_message(const caf::error& err);

} // namespace orasi
