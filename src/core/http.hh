// http.hh: outbound HTTPS through libcurl, the only way exoauth talks to an
// identity provider. HTTPS only, TLS 1.2 minimum, peer and host verification
// always on (a CA file adds trust anchors, it never turns checks off), a
// timeout on every request and a cap on every response body. One HttpClient
// per thread (it owns a CURL easy handle and reuses its connection). A
// proxy is used only when the configuration names one ([idp] proxy, a
// CONNECT tunnel: TLS to the IdP stays end to end and verified), never
// from the environment (http_proxy, https_proxy, ALL_PROXY, NO_PROXY).
#pragma once

#include "secret.hh"

#include <curl/curl.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace exo {

constexpr size_t HTTP_MAX_BODY = 256 * 1024;

struct CurlDeleter { void operator()(CURL *c) const { curl_easy_cleanup(c); } };
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

struct Config;

struct HttpOptions {
    std::string ca_file;      // extra trust anchors; empty = system store only
    std::string proxy;        // http(s)://[user:password@]host:port; empty = direct
    std::string no_proxy;     // hosts that skip the proxy, comma separated
    int timeout_ms = 10000;   // whole request
    int connect_timeout_ms = 5000;
};

struct HttpResponse {
    long status = 0;            // 0 when no HTTP answer came back
    Secret body;                // may hold tokens: wiped when dropped
    std::string content_type;
    int retry_after = -1;       // seconds from Retry-After (delta or date), -1 none
    std::string error;          // transport error text when status == 0
    bool timed_out = false;
};

using FormFields = std::vector<std::pair<std::string, Secret>>;

// application/x-www-form-urlencoded encoding of fields (values escaped).
Secret form_encode(const FormFields &fields);

class HttpClient {
public:
    explicit HttpClient(HttpOptions opts);
    // POST a form; false only when the request could not be attempted at all
    // (bad URL, not https). Transport failures return true with status 0.
    bool post_form(const std::string &url, const FormFields &fields, HttpResponse &resp,
                   std::string &error);
    bool get(const std::string &url, HttpResponse &resp, std::string &error);

private:
    bool perform(const std::string &url, const Secret *form, HttpResponse &resp,
                 std::string &error);
    HttpOptions opts_;
    CurlPtr curl_;
};

// The options of every request to the identity provider: [idp] ca_file,
// proxy, no_proxy and [global] http_timeout.
HttpOptions idp_http_options(const Config &cfg);
// How requests reach the IdP, for logs and doctor: "direct" or "via proxy
// host:port" (never the proxy's user or password).
std::string idp_route(const HttpOptions &o);

// Call once at start (curl_global_init); not thread safe.
bool http_global_init(std::string &error);

} // namespace exo
