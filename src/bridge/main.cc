// main.cc: exoauth-pop3-bridge, run once per connection by systemd's socket
// activation (Accept=yes) on a loopback port. Dovecot's POP3 login proxy
// connects to it in plain text and sends "AUTH XOAUTH2 <initial response>"
// on one line; the bridge opens implicit TLS to Exchange Online (verified,
// TLS >= 1.2), passes every line through unchanged except an AUTH line
// above RFC 5034's 255 octets, which it sends as the command and then the
// response after the server's "+", and relays the server's bytes back.
// It holds a token only while passing it on; it logs no line a client sent.
// Usage: exoauth-pop3-bridge [--connect HOST:PORT] [--ca-file FILE]
//        [--timeout SECONDS]   (stdin/stdout: the connection from Dovecot)
#include "harden.hh"
#include "pop3auth.hh"
#include "protocol.hh"
#include "secret.hh"
#include "upstream.hh"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

using exo::bridge::Target;
using exo::bridge::Upstream;

namespace {

constexpr size_t kMaxLine = 16384;  // larger than any XOAUTH2 response with an Entra token
constexpr int kIdleSeconds = 600;   // Exchange ends idle POP3 sessions well before this
constexpr int kClientIn = 0, kClientOut = 1;

// One line on stderr (the journal under systemd).
void say(const std::string &msg)
{
    fprintf(stderr, "exoauth-pop3-bridge: %s\n", msg.c_str());
}

// Write all of data to the client; false when it is gone.
bool client_write(std::string_view data)
{
    while (!data.empty()) {
        ssize_t n = write(kClientOut, data.data(), data.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data.remove_prefix((size_t)n);
    }
    return true;
}

// Parse the command line into t; false (with a message printed) when bad.
bool parse_args(int argc, char **argv, Target &t)
{
    std::string error;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--connect" && v && exo::bridge::parse_target(v, t, error))
            i++;
        else if (a == "--ca-file" && v)
            t.ca_file = argv[++i];
        else if (a == "--timeout" && v && atoi(v) > 0 && atoi(v) <= 3600)
            t.timeout_s = atoi(argv[++i]);
        else {
            say("bad argument " + a + (error.empty() ? "" : ": " + error) +
                "; usage: exoauth-pop3-bridge [--connect HOST:PORT] [--ca-file FILE] [--timeout SECONDS]");
            return false;
        }
    }
    return true;
}

// The relay between the client (fds 0/1) and the server.
class Relay {
public:
    explicit Relay(Upstream &up) : up_(up), lines_(kMaxLine) {}
    ~Relay() { lines_.wipe(); }
    // Until either side closes or fails; the exit status.
    int run();

private:
    bool from_client();
    bool from_server();
    bool send_line(std::string &line);
    bool send_split(std::string &command, std::string &response);
    bool read_server_line(std::string &line);
    Upstream &up_;
    exo::proto::LineBuffer lines_;
    std::string error_;
};

// Poll both sides; the server's decrypted bytes first.
int Relay::run()
{
    for (;;) {
        if (!up_.pending()) {
            struct pollfd p[2] = {{kClientIn, POLLIN, 0}, {up_.fd(), POLLIN, 0}};
            int n = poll(p, 2, kIdleSeconds * 1000);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                say(n == 0 ? "idle for too long: closing" : std::string("poll: ") + strerror(errno));
                return 1;
            }
            if (p[0].revents && !from_client())
                break;
            if (!p[1].revents)
                continue;
        }
        if (!from_server())
            break;
    }
    up_.shutdown();
    if (!error_.empty()) {
        say(error_);
        return 1;
    }
    return 0;
}

// Bytes from the server go to the client as they are.
bool Relay::from_server()
{
    char buf[16384];
    long n = up_.read(buf, sizeof buf, error_);
    if (n <= 0)
        return false;
    bool ok = client_write(std::string_view(buf, (size_t)n));
    exo::wipe(buf, sizeof buf);
    return ok;
}

// Cut the client's bytes into lines and pass each on.
bool Relay::from_client()
{
    char buf[4096];
    ssize_t n = read(kClientIn, buf, sizeof buf);
    if (n <= 0)
        return false;
    lines_.append(buf, (size_t)n);
    exo::wipe(buf, sizeof buf);
    std::string line;
    for (;;) {
        switch (lines_.next(line)) {
        case exo::proto::LineBuffer::Next::NeedMore:
            return true;
        case exo::proto::LineBuffer::Next::TooLong:
        case exo::proto::LineBuffer::Next::Binary:
            client_write("-ERR exoauth-pop3-bridge: line too long or not text\r\n");
            error_ = "client sent a line above 16 KiB or a NUL byte: closing";
            return false;
        case exo::proto::LineBuffer::Next::Line:
            if (!send_line(line))
                return false;
        }
    }
}

// Pass one client line on, split in two when it is an over-long AUTH.
bool Relay::send_line(std::string &line)
{
    // The LF back, in storage sized for it: no reallocation leaves a copy behind.
    std::string full;
    full.reserve(line.size() + 1);
    full.append(line).push_back('\n');
    exo::wipe(line);
    std::string command, response;
    bool ok = exo::bridge::split_auth(full, exo::bridge::kAuthLineLimit, command, response)
                  ? send_split(command, response)
                  : up_.write_all(full, error_);
    exo::wipe(full);
    exo::wipe(response);
    return ok;
}

// AUTH MECH, then the response once the server says "+".
bool Relay::send_split(std::string &command, std::string &response)
{
    std::string reply;
    if (!up_.write_all(command, error_) || !read_server_line(reply))
        return false;
    if (!exo::bridge::is_continuation(reply))
        return client_write(reply);  // the server refused the mechanism: the client sees why
    return up_.write_all(response, error_);
}

// One line from the server, read byte by byte (a few bytes, once per login).
bool Relay::read_server_line(std::string &line)
{
    char c = 0;
    while (line.size() < 1024) {
        long n = up_.read(&c, 1, error_);
        if (n <= 0) {
            if (error_.empty())
                error_ = "server closed the connection during AUTH";
            return false;
        }
        line.push_back(c);
        if (c == '\n')
            return true;
    }
    error_ = "server sent a line above 1 KiB during AUTH";
    return false;
}

} // namespace

int main(int argc, char **argv)
{
    std::string error;
    if (!exo::harden_no_dumps(error))
        say("warning: " + error);
    signal(SIGPIPE, SIG_IGN);
    Target t;
    if (!parse_args(argc, argv, t))
        return 2;
    Upstream up;
    if (!up.open(t, error)) {
        say(error);
        // A temporary failure for Dovecot's proxy, so its client may retry.
        client_write("-ERR [SYS/TEMP] exoauth-pop3-bridge: Exchange is unreachable\r\n");
        return 1;
    }
    return Relay(up).run();
}
