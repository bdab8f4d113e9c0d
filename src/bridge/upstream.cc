// upstream.cc: TCP connect with a timeout, TLS >= 1.2 with verification,
// bounded blocking reads and writes (upstream.hh).
#include "upstream.hh"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace exo::bridge {
namespace {

// The newest OpenSSL error as text, or fallback.
std::string ssl_error(const char *fallback)
{
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0)
        return fallback;
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

// Bound every blocking read and write on fd by seconds.
void set_io_timeout(int fd, int seconds)
{
    struct timeval tv = {seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// Connect fd to one address, waiting at most timeout_s; 0 or an errno.
int connect_within(int fd, const struct addrinfo *ai, int timeout_s)
{
    int flags = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int err = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            int n = poll(&p, 1, timeout_s * 1000);
            socklen_t len = sizeof err;
            if (n == 0)
                err = ETIMEDOUT;
            else if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
        }
    }
    fcntl(fd, F_SETFL, flags);
    return err;
}

// True when host is an IPv4 or IPv6 literal.
bool is_ip_literal(const std::string &host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

} // namespace

// "HOST:PORT" or "[V6]:PORT".
bool parse_target(std::string_view s, Target &t, std::string &error)
{
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 == s.size()) {
        error = "expected HOST:PORT";
        return false;
    }
    std::string_view host = s.substr(0, colon), port = s.substr(colon + 1);
    if (host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    if (host.empty() || host.size() > 253 || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string_view::npos) {
        error = "expected HOST:PORT";
        return false;
    }
    for (char c : host) {
        if (!(isalnum((unsigned char)c) || c == '.' || c == '-' || c == ':')) {
            error = "a host name holds letters, digits, '.', '-' or ':'";
            return false;
        }
    }
    unsigned long p = std::stoul(std::string(port));
    if (p == 0 || p > 65535) {
        error = "port 1 to 65535";
        return false;
    }
    t.host.assign(host);
    t.port.assign(port);
    return true;
}

Upstream::~Upstream()
{
    ssl_.reset();
    if (fd_ >= 0)
        close(fd_);
}

// Try each resolved address in turn.
bool Upstream::connect_tcp(const Target &t, std::string &error)
{
    struct addrinfo hints = {};
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *res = nullptr;
    int rc = getaddrinfo(t.host.c_str(), t.port.c_str(), &hints, &res);
    if (rc != 0) {
        error = std::string("cannot resolve ") + t.host + ": " + gai_strerror(rc);
        return false;
    }
    int err = ENOENT;
    for (struct addrinfo *ai = res; ai && fd_ < 0; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        err = connect_within(fd, ai, t.timeout_s);
        if (err == 0)
            fd_ = fd;
        else
            close(fd);
    }
    freeaddrinfo(res);
    if (fd_ < 0) {
        error = "cannot connect to " + t.host + ":" + t.port + ": " + strerror(err);
        return false;
    }
    set_io_timeout(fd_, t.timeout_s);
    return true;
}

// TLS 1.2+, the peer's chain and name verified; SNI sent for names.
bool Upstream::handshake(const Target &t, std::string &error)
{
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx_ || !SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_2_VERSION)) {
        error = ssl_error("cannot make a TLS context");
        return false;
    }
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    // POP3 frames its own answers; a server that closes without close_notify
    // is an end, not an error.
    SSL_CTX_set_options(ctx_.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
    int ok = t.ca_file.empty() ? SSL_CTX_set_default_verify_paths(ctx_.get())
                               : SSL_CTX_load_verify_locations(ctx_.get(), t.ca_file.c_str(), nullptr);
    if (!ok) {
        error = "cannot load CAs" + (t.ca_file.empty() ? std::string() : " from " + t.ca_file) + ": " +
                ssl_error("unknown error");
        return false;
    }
    ssl_.reset(SSL_new(ctx_.get()));
    if (!ssl_ || !SSL_set_fd(ssl_.get(), fd_)) {
        error = ssl_error("cannot make a TLS session");
        return false;
    }
    bool ip = is_ip_literal(t.host);
    ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_.get()), t.host.c_str())
            : SSL_set1_host(ssl_.get(), t.host.c_str()) && SSL_set_tlsext_host_name(ssl_.get(), t.host.c_str());
    if (!ok) {
        error = ssl_error("cannot set the name to verify");
        return false;
    }
    if (SSL_connect(ssl_.get()) != 1) {
        long v = SSL_get_verify_result(ssl_.get());
        error = "TLS with " + t.host + " failed: " +
                (v != X509_V_OK ? std::string(X509_verify_cert_error_string(v)) : ssl_error("handshake failed"));
        return false;
    }
    return true;
}

// Connect, then TLS.
bool Upstream::open(const Target &t, std::string &error)
{
    return connect_tcp(t, error) && handshake(t, error);
}

// SSL_write until all of data is out.
bool Upstream::write_all(std::string_view data, std::string &error)
{
    while (!data.empty()) {
        size_t n = 0;
        if (SSL_write_ex(ssl_.get(), data.data(), data.size(), &n) != 1) {
            error = ssl_error("write to the server failed or timed out");
            return false;
        }
        data.remove_prefix(n);
    }
    return true;
}

// One SSL_read.
long Upstream::read(char *buf, size_t n, std::string &error)
{
    size_t got = 0;
    if (SSL_read_ex(ssl_.get(), buf, n, &got) == 1)
        return (long)got;
    int e = SSL_get_error(ssl_.get(), 0);
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    error = ssl_error("read from the server failed or timed out");
    return -1;
}

// close_notify, best effort.
void Upstream::shutdown()
{
    if (ssl_)
        SSL_shutdown(ssl_.get());
}

} // namespace exo::bridge
