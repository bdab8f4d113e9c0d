// upstream.hh: exoauth-pop3-bridge's connection to Exchange Online's POP3
// service: TCP with a connect timeout, then implicit TLS (1.2 or later)
// with the peer's certificate and name always verified against the system's
// CAs or a configured CA file. Blocking I/O bounded by a timeout on every
// read and write; the relay polls fd() and pending().
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

namespace exo::bridge {

struct SslCtxDeleter {
    void operator()(SSL_CTX *c) const { SSL_CTX_free(c); }
};
struct SslDeleter {
    void operator()(SSL *s) const { SSL_free(s); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

struct Target {
    std::string host = "outlook.office365.com";
    std::string port = "995";
    std::string ca_file;   // empty: the system's CAs
    int timeout_s = 60;    // connect, handshake, and each read or write
};

// Parse "HOST:PORT" or "[V6]:PORT" into t; false with a reason.
bool parse_target(std::string_view s, Target &t, std::string &error);

class Upstream {
public:
    Upstream() = default;
    Upstream(const Upstream &) = delete;
    Upstream &operator=(const Upstream &) = delete;
    ~Upstream();

    // Connect, handshake and verify; false with a reason.
    bool open(const Target &t, std::string &error);
    // Write all of data; false with a reason.
    bool write_all(std::string_view data, std::string &error);
    // Read up to n bytes: >0 bytes read, 0 closed by the server, -1 error.
    long read(char *buf, size_t n, std::string &error);
    // Bytes OpenSSL holds already decrypted (poll would not see them).
    bool pending() const { return ssl_ && SSL_pending(ssl_.get()) > 0; }
    int fd() const { return fd_; }
    // Close the TLS session politely.
    void shutdown();

private:
    bool connect_tcp(const Target &t, std::string &error);
    bool handshake(const Target &t, std::string &error);
    int fd_ = -1;
    SslCtxPtr ctx_;
    SslPtr ssl_;
};

} // namespace exo::bridge
