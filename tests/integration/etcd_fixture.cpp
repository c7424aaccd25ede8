#include "etcd_fixture.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <httplib.h>

#include "test_support.hpp"

namespace orasi::test {

namespace {

namespace json = boost::json;

const std::string etcd_binary = "/usr/bin/etcd";
const std::string etcdctl_binary = "/usr/bin/etcdctl";

// A port lost to another process between picking and binding shows up as an
// early exit with this in the log; the cluster then retries with new ports.
constexpr const char* port_taken = "address already in use";
constexpr int start_attempts = 3;

int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::chrono::milliseconds
time_left(std::chrono::steady_clock::time_point deadline) {
  return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now()),
                  std::chrono::milliseconds(0));
}

/// The exit code once `pid` has exited; -1 if it still runs after `timeout`.
int wait_for(pid_t pid, std::chrono::milliseconds timeout) {
  int code = -1;
  eventually(
      [&] {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) != pid)
          return false;
        code = exit_code_of(status);
        return true;
      },
      timeout);
  return code;
}

int kill_and_reap(pid_t pid) {
  ::kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return exit_code_of(status);
}

/// Runs in the forked child, so only async-signal-safe calls: the parent may
/// have other threads whose locks the child inherits taken.
[[noreturn]] void exec_child(pid_t parent, int out_fd, int err_fd, int error_fd,
                             char* const argv[], char* const envp[]) {
  // Killed with the test binary, even when it crashes or CTest kills it on
  // timeout and no destructor runs.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent)
    _exit(127);
  // Signal state is inherited through exec: etcd must see SIGTERM.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (int signal : {SIGTERM, SIGINT, SIGPIPE})
    sigaction(signal, &default_action, nullptr);
  int null_fd = open("/dev/null", O_RDONLY);
  dup2(null_fd, STDIN_FILENO);
  dup2(out_fd, STDOUT_FILENO);
  dup2(err_fd, STDERR_FILENO);
  // Whatever else the test binary opened without O_CLOEXEC (a test server's
  // listening socket, another child's pipe) must not live on in etcd: a
  // leaked listening socket keeps its port taken after the test closed it.
  close_range(STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC);
  execve(argv[0], argv, envp);
  int error = errno;
  (void)!write(error_fd, &error, sizeof(error));
  _exit(127);
}

/// Starts `argv` with exactly `env` as its environment (etcd reads ETCD_*
/// variables as flags, etcdctl ETCDCTL_*: a developer's shell must not leak
/// into the tests) and stdout/stderr on the given descriptors.
pid_t spawn(std::vector<std::string> argv, std::vector<std::string> env,
            int out_fd, int err_fd) {
  std::vector<char*> args;
  for (auto& arg : argv)
    args.push_back(arg.data());
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& var : env)
    envp.push_back(var.data());
  envp.push_back(nullptr);
  // exec closes this pipe; an errno on it means exec failed.
  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  auto parent = getpid();
  auto pid = fork();
  if (pid == 0)
    exec_child(parent, out_fd, err_fd, error_pipe[1], args.data(), envp.data());
  close(error_pipe[1]);
  int error = 0;
  ssize_t n = 0;
  while (pid > 0 && (n = read(error_pipe[0], &error, sizeof(error))) < 0 &&
         errno == EINTR) {
  }
  close(error_pipe[0]);
  if (pid < 0)
    throw std::runtime_error("fork failed");
  if (n > 0) {
    waitpid(pid, nullptr, 0);
    throw std::runtime_error("cannot exec " + argv[0] + ": " +
                             std::strerror(error));
  }
  return pid;
}

/// Reads both pipes to the end, or until `deadline`.
void drain(int out_fd, int err_fd, std::string& out, std::string& err,
           std::chrono::steady_clock::time_point deadline) {
  pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
  std::string* sinks[2] = {&out, &err};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = time_left(deadline);
    if (left.count() == 0)
      return;
    if (poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR)
      return;
    for (int k = 0; k < 2; ++k) {
      if (fds[k].fd < 0 || fds[k].revents == 0)
        continue;
      char buffer[4096];
      auto n = read(fds[k].fd, buffer, sizeof(buffer));
      if (n > 0) {
        sinks[k]->append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[k].fd = -1; // poll ignores negative descriptors
        --open_fds;
      }
    }
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string joined;
  for (auto& part : parts)
    joined += (joined.empty() ? "" : separator) + part;
  return joined;
}

std::string base64_decode(const std::string& text) {
  static const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string decoded;
  uint32_t bits = 0;
  int bit_count = 0;
  for (char c : text) {
    if (c == '=')
      break;
    auto value = alphabet.find(c);
    if (value == std::string::npos)
      throw std::runtime_error("invalid base64 from etcdctl: " + text);
    bits = (bits << 6) | static_cast<uint32_t>(value);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      decoded.push_back(static_cast<char>((bits >> bit_count) & 0xff));
    }
  }
  return decoded;
}

json::value parse_json(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const std::exception& error) {
    throw std::runtime_error("unexpected etcdctl output (" +
                             std::string{error.what()} + "): " + text);
  }
}

/// etcdctl prints Go structs with encoding/json's omitempty: a field that
/// is zero (no lease, no leader) is left out.
template <class Number>
Number field_or_zero(const json::value& object, const char* key) {
  auto* field = object.as_object().if_contains(key);
  return field ? field->to_number<Number>() : 0;
}

/// Bound to 127.0.0.1:0 and closed again: the kernel picked a port nobody
/// uses right now. The socket stays open until all ports are picked, so
/// that one cluster never gets the same port twice.
uint16_t bind_free_port(std::vector<int>& open_sockets) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    throw std::runtime_error("socket failed");
  open_sockets.push_back(fd);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  auto* generic = reinterpret_cast<sockaddr*>(&address);
  if (bind(fd, generic, length) != 0 || getsockname(fd, generic, &length) != 0)
    throw std::runtime_error("cannot bind a free port on 127.0.0.1");
  return ntohs(address.sin_port);
}

std::string url(uint16_t port) {
  return "http://127.0.0.1:" + std::to_string(port);
}

/// etcd 3.4's /health is true once the member knows a leader and a quorum
/// read (a v2 QGET) has gone through raft and been applied on this member:
/// so "up and caught up". Unlike a /v3/kv/range it needs no credentials
/// when auth is enabled (the gateway's error answer then even has HTTP
/// trailers that cpp-httplib cannot parse).
/// Over TLS the fixture shows its client certificate, as --client-cert-auth
/// requires.
bool healthy(uint16_t client_port, const etcd_certificates& certificates,
             std::chrono::milliseconds timeout) {
  auto ask = [&](auto& client) {
    client.set_connection_timeout(timeout);
    client.set_read_timeout(timeout);
    auto response = client.Get("/health");
    return response && response->status == 200;
  };
  if (certificates.ca_file.empty()) {
    httplib::Client client{"127.0.0.1", client_port};
    return ask(client);
  }
  httplib::SSLClient client{"127.0.0.1", client_port,
                            certificates.client_cert_file,
                            certificates.client_key_file};
  client.set_ca_cert_path(certificates.ca_file.c_str());
  client.enable_server_certificate_verification(true);
  return ask(client);
}

bool peer_port_serves(uint16_t peer_port) {
  httplib::Client client{"127.0.0.1", peer_port};
  client.set_connection_timeout(std::chrono::milliseconds(250));
  client.set_read_timeout(std::chrono::milliseconds(250));
  auto response = client.Get("/version");
  return response && response->status == 200;
}

} // namespace

namespace {

/// Runs `argv` with exactly `env`, capturing its output; killed after
/// `timeout`.
etcdctl_result run_tool(const std::vector<std::string>& argv,
                        const std::vector<std::string>& env,
                        std::chrono::milliseconds timeout) {
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    throw std::runtime_error("pipe failed");
  }
  pid_t pid = -1;
  try {
    pid = spawn(argv, env, out_pipe[1], err_pipe[1]);
  } catch (...) {
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]})
      close(fd);
    throw;
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  etcdctl_result result;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  drain(out_pipe[0], err_pipe[0], result.out, result.err, deadline);
  close(out_pipe[0]);
  close(err_pipe[0]);
  result.exit_code = wait_for(pid, time_left(deadline));
  if (result.exit_code == -1) {
    kill_and_reap(pid);
    result.err += "\n(" + argv[0] + " killed after " +
                  std::to_string(timeout.count()) + " ms)";
  }
  return result;
}

/// One openssl step of make_certificates; throws with its output if it
/// fails.
void openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "/usr/bin/openssl");
  auto result = run_tool(args, {}, std::chrono::seconds(30));
  if (!result.ok())
    throw std::runtime_error(join(args, " ") + " failed (exit " +
                             std::to_string(result.exit_code) +
                             "): " + result.out + result.err);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out{path, std::ios::binary | std::ios::trunc};
  out << text;
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

/// A key (EC P-256: fast to make) and a certificate signed by the CA in
/// `dir`, with the X.509v3 extensions `extensions` (openssl's syntax).
void make_signed(const std::string& dir, const std::string& name,
                 const std::string& subject, const std::string& serial,
                 const std::string& extensions) {
  auto base = dir + "/" + name;
  write_text(base + ".ext", extensions);
  openssl({"req", "-new", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", base + ".key",
           "-out", base + ".csr", "-subj", subject});
  openssl({"x509", "-req", "-in", base + ".csr", "-CA", dir + "/ca.pem",
           "-CAkey", dir + "/ca.key", "-set_serial", serial, "-days", "2",
           "-out", base + ".pem", "-extfile", base + ".ext"});
}

etcd_certificates make_certificates(const std::string& dir) {
  std::filesystem::create_directories(dir);
  openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt",
           "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/ca.key",
           "-out", dir + "/ca.pem", "-days", "2", "-subj", "/CN=orasi-test-ca",
           "-addext", "basicConstraints=critical,CA:TRUE"});
  make_signed(dir, "server", "/CN=127.0.0.1", "2",
              "subjectAltName=IP:127.0.0.1\n"
              "extendedKeyUsage=serverAuth,clientAuth\n");
  make_signed(dir, "client", "/CN=orasi-test-client", "3",
              "extendedKeyUsage=clientAuth\n");
  return {dir + "/ca.pem", dir + "/server.pem", dir + "/server.key",
          dir + "/client.pem", dir + "/client.key"};
}

} // namespace

etcdctl_result etcdctl(const std::vector<std::string>& endpoints,
                       std::vector<std::string> args,
                       std::chrono::milliseconds timeout) {
  if (endpoints.empty())
    throw std::invalid_argument("etcdctl without endpoints would use the "
                                "default 127.0.0.1:2379");
  args.insert(args.begin(),
              {etcdctl_binary, "--endpoints=" + join(endpoints, ",")});
  return run_tool(args, {"ETCDCTL_API=3"}, timeout);
}

std::map<std::string, std::string> kvs_from_json(const std::string& get_json) {
  std::map<std::string, std::string> kvs;
  auto response = parse_json(get_json);
  // encoding/json's omitempty: no "kvs" when nothing matched, no "value"
  // for an empty value.
  auto* list = response.as_object().if_contains("kvs");
  if (list == nullptr)
    return kvs;
  for (auto& kv : list->as_array()) {
    auto& fields = kv.as_object();
    auto* value = fields.if_contains("value");
    kvs[base64_decode(json::value_to<std::string>(fields.at("key")))] =
        value ? base64_decode(json::value_to<std::string>(*value)) : "";
  }
  return kvs;
}

etcd_cluster::etcd_cluster(size_t members, etcd_options options)
    : options_(std::move(options)) {
  if (members == 0)
    throw std::invalid_argument("an etcd cluster needs a member");
  std::string pattern =
      (std::filesystem::temp_directory_path() / "orasi-etcd-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  root_dir_ = pattern;
  for (size_t i = 0; i < members; ++i) {
    member m;
    m.name = "m" + std::to_string(i);
    m.data_dir = root_dir_ + "/" + m.name;
    m.log_path = root_dir_ + "/" + m.name + ".log";
    members_.push_back(std::move(m));
  }
  // The destructor does not run when the constructor throws.
  try {
    if (options_.security != etcd_security::plain)
      certificates_ = make_certificates(root_dir_ + "/pki");
    start_cluster();
  } catch (...) {
    kill_all();
    std::error_code ignored;
    std::filesystem::remove_all(root_dir_, ignored);
    throw;
  }
}

etcd_cluster::~etcd_cluster() {
  kill_all();
  std::error_code ignored;
  std::filesystem::remove_all(root_dir_, ignored);
}

void etcd_cluster::start_cluster() {
  std::vector<size_t> all;
  for (size_t i = 0; i < members_.size(); ++i)
    all.push_back(i);
  for (int attempt = 1;; ++attempt) {
    auto deadline = std::chrono::steady_clock::now() + options_.startup_timeout;
    assign_free_ports();
    // Unique per cluster and attempt: members of two clusters must never
    // accept each other as peers.
    token_ = std::filesystem::path{root_dir_}.filename().string() + "-" +
             std::to_string(attempt);
    for (size_t i : all) {
      std::filesystem::remove_all(members_[i].data_dir);
      std::filesystem::remove(members_[i].log_path);
      start_member(members_[i]);
      wait_until_peering(i, deadline);
    }
    if (wait_until_serving(all, deadline))
      return;
    bool collision = false;
    for (size_t i : all)
      collision = collision || (!running(i) && member_log(i).find(port_taken) !=
                                                   std::string::npos);
    if (!collision || attempt == start_attempts)
      fail_startup("the etcd cluster did not start", all);
    kill_all();
  }
}

void etcd_cluster::assign_free_ports() {
  std::vector<int> sockets;
  try {
    for (auto& m : members_) {
      m.client_port = bind_free_port(sockets);
      m.peer_port = bind_free_port(sockets);
    }
  } catch (...) {
    for (int fd : sockets)
      close(fd);
    throw;
  }
  for (int fd : sockets)
    close(fd);
}

std::vector<std::string> etcd_cluster::command_line(const member& m) const {
  std::vector<std::string> peers;
  for (auto& peer : members_)
    peers.push_back(peer.name + "=" + url(peer.peer_port));
  std::vector<std::string> args = {
      etcd_binary,
      "--name=" + m.name,
      "--data-dir=" + m.data_dir,
      "--listen-client-urls=" + client_url_of(m),
      "--advertise-client-urls=" + client_url_of(m),
      "--listen-peer-urls=" + url(m.peer_port),
      "--initial-advertise-peer-urls=" + url(m.peer_port),
      "--initial-cluster=" + join(peers, ","),
      // Ignored once the data dir exists, so restarts reuse these args.
      "--initial-cluster-state=new",
      "--initial-cluster-token=" + token_,
      // Fast elections for failover tests; fine on loopback.
      "--heartbeat-interval=50",
      "--election-timeout=500",
  };
  if (options_.security != etcd_security::plain)
    args.insert(args.end(), {"--cert-file=" + certificates_.server_cert_file,
                             "--key-file=" + certificates_.server_key_file});
  if (options_.security == etcd_security::client_cert_auth)
    args.insert(args.end(), {"--client-cert-auth",
                             "--trusted-ca-file=" + certificates_.ca_file});
  if (!options_.auto_compaction.empty()) {
    args.push_back("--auto-compaction-mode=" + options_.auto_compaction_mode);
    args.push_back("--auto-compaction-retention=" + options_.auto_compaction);
  }
  args.insert(args.end(), options_.extra_args.begin(),
              options_.extra_args.end());
  return args;
}

void etcd_cluster::start_member(member& m) {
  int log_fd =
      open(m.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0)
    throw std::runtime_error("cannot open " + m.log_path);
  // Marks each run, as a member's log spans its restarts.
  std::string banner = "=== etcd_fixture: starting " + m.name + " ===\n";
  (void)!write(log_fd, banner.data(), banner.size());
  try {
    m.pid = spawn(command_line(m), {}, log_fd, log_fd);
  } catch (...) {
    close(log_fd);
    throw;
  }
  close(log_fd);
  m.exit_code = -1;
}

void etcd_cluster::wait_until_peering(
    size_t i, std::chrono::steady_clock::time_point deadline) {
  // A new member first asks its peers whether it was bootstrapped before.
  // A peer that has opened its port but not yet started serving it stalls
  // that question for etcd's 1 s bootstrap timeout, and members started
  // together do that to each other: 0.2 to 2.2 s for 3 members, at random.
  // Started one by one, each new member finds its peers either serving or
  // not listening yet, and asks in no time.
  eventually(
      [&] { return !running(i) || peer_port_serves(members_[i].peer_port); },
      time_left(deadline));
}

bool etcd_cluster::wait_until_serving(
    const std::vector<size_t>& which,
    std::chrono::steady_clock::time_point deadline) {
  std::vector<bool> serving(which.size(), false);
  bool exited = false;
  auto started = std::chrono::steady_clock::now();
  // Stops early when a member exits: a bad flag or a taken port does not
  // fix itself, and waiting the whole timeout would only slow the failure.
  auto settled = [&] {
    // A member accepts connections before it has joined the cluster, but
    // answers only after: a request sent too early hangs until it times
    // out. Short timeouts first, longer ones in case the machine is slow.
    auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    auto timeout = std::clamp(waited / 4, std::chrono::milliseconds(250),
                              std::chrono::milliseconds(2000));
    bool all = true;
    for (size_t k = 0; k < which.size(); ++k) {
      if (serving[k])
        continue;
      if (!running(which[k])) {
        exited = true;
        return true;
      }
      serving[k] =
          healthy(members_[which[k]].client_port, certificates_, timeout);
      all = all && serving[k];
    }
    return all;
  };
  return eventually(settled, time_left(deadline)) && !exited;
}

void etcd_cluster::fail_startup(const std::string& what,
                                const std::vector<size_t>& which) const {
  std::string message = what + " (startup timeout " +
                        std::to_string(options_.startup_timeout.count()) +
                        " ms)";
  for (size_t i : which) {
    auto& m = members_[i];
    auto state = m.pid > 0 ? "running, not healthy"
                           : "exited with code " + std::to_string(m.exit_code);
    message += "\n--- " + m.name + " (" + client_url_of(m) + "): " + state +
               ", log:\n" + member_log(i);
  }
  throw std::runtime_error(message);
}

void etcd_cluster::kill_all() {
  for (size_t i = 0; i < members_.size(); ++i)
    kill(i);
}

std::vector<std::string> etcd_cluster::client_urls() const {
  std::vector<std::string> urls;
  for (auto& m : members_)
    urls.push_back(client_url_of(m));
  return urls;
}

std::string etcd_cluster::client_url(size_t i) const {
  return client_url_of(members_.at(i));
}

std::string etcd_cluster::client_url_of(const member& m) const {
  auto scheme =
      options_.security == etcd_security::plain ? "http://" : "https://";
  return scheme + std::string{"127.0.0.1:"} + std::to_string(m.client_port);
}

void etcd_cluster::kill(size_t i) {
  auto& m = members_.at(i);
  if (m.pid <= 0)
    return;
  m.exit_code = kill_and_reap(m.pid);
  m.pid = -1;
}

void etcd_cluster::stop(size_t i) {
  auto& m = members_.at(i);
  if (m.pid <= 0)
    return;
  ::kill(m.pid, SIGTERM);
  m.exit_code = wait_for(m.pid, std::chrono::seconds(10));
  if (m.exit_code == -1)
    m.exit_code = kill_and_reap(m.pid);
  m.pid = -1;
}

void etcd_cluster::restart(size_t i) {
  stop(i);
  start_member(members_.at(i));
  auto deadline = std::chrono::steady_clock::now() + options_.startup_timeout;
  if (!wait_until_serving({i}, deadline))
    fail_startup("etcd member " + members_[i].name +
                     " was not healthy again after a restart",
                 {i});
}

bool etcd_cluster::running(size_t i) {
  auto& m = members_.at(i);
  if (m.pid <= 0)
    return false;
  int status = 0;
  auto rc = waitpid(m.pid, &status, WNOHANG);
  if (rc == 0)
    return true;
  // -1: no longer our child to wait for, so gone all the same.
  m.exit_code = rc == m.pid ? exit_code_of(status) : -1;
  m.pid = -1;
  return false;
}

std::string etcd_cluster::member_log(size_t i) const {
  return read_file(members_.at(i).log_path);
}

std::optional<size_t> etcd_cluster::leader() {
  auto status = etcdctl({"endpoint", "status", "--write-out=json"});
  if (!status.ok())
    return std::nullopt;
  // Members may disagree during an election: the highest term wins.
  std::map<uint64_t, std::string> url_of_id;
  uint64_t leader_id = 0;
  uint64_t term = 0;
  auto statuses = parse_json(status.out);
  for (auto& entry : statuses.as_array()) {
    auto& fields = entry.at("Status");
    auto id = field_or_zero<uint64_t>(fields.at("header"), "member_id");
    url_of_id[id] = json::value_to<std::string>(entry.at("Endpoint"));
    if (field_or_zero<uint64_t>(fields, "raftTerm") >= term) {
      term = field_or_zero<uint64_t>(fields, "raftTerm");
      // No "leader" field while a member knows of none.
      leader_id = field_or_zero<uint64_t>(fields, "leader");
    }
  }
  auto found = url_of_id.find(leader_id);
  if (found == url_of_id.end())
    return std::nullopt;
  auto urls = client_urls();
  auto index = std::find(urls.begin(), urls.end(), found->second);
  if (index == urls.end())
    return std::nullopt;
  return static_cast<size_t>(index - urls.begin());
}

std::vector<std::string> etcd_cluster::running_urls() {
  std::vector<std::string> urls;
  for (size_t i = 0; i < members_.size(); ++i)
    if (running(i))
      urls.push_back(client_url(i));
  return urls;
}

etcdctl_result etcd_cluster::etcdctl(std::vector<std::string> args,
                                     std::chrono::milliseconds timeout) {
  auto urls = running_urls();
  if (urls.empty())
    return {-1, "", "no etcd member is running"};
  if (options_.security != etcd_security::plain)
    args.insert(args.begin(), {"--cacert=" + certificates_.ca_file,
                               "--cert=" + certificates_.client_cert_file,
                               "--key=" + certificates_.client_key_file});
  return orasi::test::etcdctl(urls, std::move(args), timeout);
}

etcdctl_result etcd_cluster::checked(std::vector<std::string> args) {
  auto result = etcdctl(args);
  if (!result.ok())
    throw std::runtime_error("etcdctl " + join(args, " ") + " failed (exit " +
                             std::to_string(result.exit_code) +
                             "): " + result.err);
  return result;
}

// "--" ends the options: keys and values may start with '-'.

void etcd_cluster::put(const std::string& key, const std::string& value,
                       int64_t lease) {
  std::vector<std::string> args = {"put"};
  if (lease != 0) {
    // etcdctl takes lease IDs in hex only.
    std::ostringstream hex;
    hex << std::hex << lease;
    args.push_back("--lease=" + hex.str());
  }
  args.insert(args.end(), {"--", key, value});
  checked(args);
}

void etcd_cluster::del(const std::string& key) {
  checked({"del", "--", key});
}

std::string etcd_cluster::get_json(const std::string& key_or_prefix,
                                   bool prefix) {
  std::vector<std::string> args = {"get", "--write-out=json"};
  if (prefix)
    args.push_back("--prefix");
  args.insert(args.end(), {"--", key_or_prefix});
  return checked(args).out;
}

std::map<std::string, std::string>
etcd_cluster::read_prefix(const std::string& prefix) {
  return kvs_from_json(get_json(prefix, true));
}

std::optional<int64_t> etcd_cluster::lease_of(const std::string& key) {
  auto response = parse_json(get_json(key));
  auto* list = response.as_object().if_contains("kvs");
  if (list == nullptr || list->as_array().empty())
    return std::nullopt;
  auto lease = field_or_zero<int64_t>(list->as_array()[0], "lease");
  if (lease == 0)
    return std::nullopt;
  return lease;
}

int64_t etcd_cluster::grant_lease(std::chrono::seconds ttl) {
  auto result = checked(
      {"lease", "grant", std::to_string(ttl.count()), "--write-out=json"});
  return parse_json(result.out).at("ID").to_number<int64_t>();
}

void etcd_cluster::compact(int64_t revision) {
  checked({"compact", "--physical", std::to_string(revision)});
}

int64_t etcd_cluster::current_revision() {
  // Any read returns the store revision in its header; the key is arbitrary.
  auto response = parse_json(get_json("orasi-test-revision-probe"));
  return response.at("header").at("revision").to_number<int64_t>();
}

} // namespace orasi::test
