// http.cc: libcurl for exoauth's outbound HTTPS (see http.hh). HTTPS only,
// TLS 1.2 or later, peer and host verification on for every request, no
// redirects, a timeout on every request and a cap on every body. Bodies
// that may hold tokens live in a Secret; form buffers are wiped.
#include "exoauth_config.h"

#include "http.hh"

#include "config.hh"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <strings.h>

namespace exo {

namespace {
struct SlistDeleter { void operator()(curl_slist *l) const { curl_slist_free_all(l); } };
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// Per-request state the callbacks fill.
struct Transfer {
    std::string body;
    HttpResponse *resp = nullptr;
    bool too_big = false;
};

// Body callback: append, refusing more than HTTP_MAX_BODY.
size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    auto *t = static_cast<Transfer *>(arg);
    size_t len = size * n;
    if (t->body.size() + len > HTTP_MAX_BODY) {
        t->too_big = true;
        return 0;
    }
    t->body.append(data, len);
    return len;
}

// Seconds until an HTTP-date, or a delta-seconds value; -1 if neither.
int parse_retry_after(std::string v)
{
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' '))
        v.pop_back();
    if (!v.empty() && v.size() < 8 && v.find_first_not_of("0123456789") == std::string::npos)
        return std::min(atoi(v.c_str()), 86400);
    time_t when = curl_getdate(v.c_str(), nullptr);
    if (when < 0)
        return -1;
    long d = (long)(when - time(nullptr));
    return (int)std::max(0L, std::min(d, 86400L));
}

// The proxy of a request: the configured one or none. An empty
// CURLOPT_PROXY and CURLOPT_NOPROXY make libcurl ignore http_proxy,
// https_proxy, ALL_PROXY and NO_PROXY in the daemon's environment.
void set_proxy(CURL *c, const HttpOptions &o)
{
    curl_easy_setopt(c, CURLOPT_PROXY, o.proxy.c_str());
    curl_easy_setopt(c, CURLOPT_NOPROXY, o.no_proxy.c_str());
    if (o.proxy.empty())
        return;
    curl_easy_setopt(c, CURLOPT_HTTPPROXYTUNNEL, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_PROXY_SSL_VERIFYHOST, 2L);
    if (!o.ca_file.empty())
        curl_easy_setopt(c, CURLOPT_PROXY_CAINFO, o.ca_file.c_str());
}

// host:port of a proxy URL that parse_proxy accepted (no scheme, no user).
std::string proxy_host_port(const std::string &url)
{
    size_t scheme = url.find("://");
    std::string rest = scheme == std::string::npos ? url : url.substr(scheme + 3);
    if (!rest.empty() && rest.back() == '/')
        rest.pop_back();
    size_t at = rest.rfind('@');
    return at == std::string::npos ? rest : rest.substr(at + 1);
}

// Header callback: Content-Type and Retry-After.
size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    auto *t = static_cast<Transfer *>(arg);
    size_t len = size * n;
    std::string h(data, len);
    size_t colon = h.find(':');
    if (colon != std::string::npos) {
        std::string name = h.substr(0, colon);
        std::string value = h.substr(colon + 1);
        value.erase(0, value.find_first_not_of(' '));
        if (strcasecmp(name.c_str(), "Retry-After") == 0)
            t->resp->retry_after = parse_retry_after(value);
        else if (strcasecmp(name.c_str(), "Content-Type") == 0)
            t->resp->content_type = value.substr(0, value.find_first_of("\r\n"));
    }
    return len;
}
} // namespace

// [idp] and [global] settings as request options.
HttpOptions idp_http_options(const Config &cfg)
{
    HttpOptions o;
    o.ca_file = cfg.ca_file;
    o.proxy = cfg.proxy;
    o.no_proxy = cfg.no_proxy;
    o.timeout_ms = cfg.http_timeout * 1000;
    o.connect_timeout_ms = std::min(5000, o.timeout_ms);
    return o;
}

// "direct" or "via proxy host:port[ (not for ...)]".
std::string idp_route(const HttpOptions &o)
{
    if (o.proxy.empty())
        return "direct";
    std::string r = "via proxy " + proxy_host_port(o.proxy);
    return o.no_proxy.empty() ? r : r + " (not for " + o.no_proxy + ")";
}

// Global libcurl set-up.
bool http_global_init(std::string &error)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        error = "curl_global_init failed";
        return false;
    }
    return true;
}

// key=value&... with both sides escaped.
Secret form_encode(const FormFields &fields)
{
    std::string out;
    for (const auto &[key, value] : fields) {
        char *k = curl_easy_escape(nullptr, key.c_str(), (int)key.size());
        char *v = curl_easy_escape(nullptr, value.str().c_str(), (int)value.size());
        if (!out.empty())
            out += '&';
        out.append(k ? k : "").append("=").append(v ? v : "");
        if (v)
            wipe(v, strlen(v));
        curl_free(k);
        curl_free(v);
    }
    return Secret(std::move(out));
}

HttpClient::HttpClient(HttpOptions opts) : opts_(std::move(opts)), curl_(curl_easy_init()) {}

// POST a form.
bool HttpClient::post_form(const std::string &url, const FormFields &fields, HttpResponse &resp,
                           std::string &error)
{
    Secret form = form_encode(fields);
    return perform(url, &form, resp, error);
}

// GET.
bool HttpClient::get(const std::string &url, HttpResponse &resp, std::string &error)
{
    return perform(url, nullptr, resp, error);
}

// One request with every safety option set afresh.
bool HttpClient::perform(const std::string &url, const Secret *form, HttpResponse &resp,
                         std::string &error)
{
    if (url.compare(0, 8, "https://") != 0) {
        error = "refusing a non-HTTPS URL: " + url;
        return false;
    }
    if (!curl_) {
        error = "curl_easy_init failed";
        return false;
    }
    CURL *c = curl_.get();
    curl_easy_reset(c);
    resp = HttpResponse();
    Transfer t;
    t.resp = &resp;
    char errbuf[CURL_ERROR_SIZE] = "";
    SlistPtr headers(curl_slist_append(nullptr, "Accept: application/json"));
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!opts_.ca_file.empty())
        curl_easy_setopt(c, CURLOPT_CAINFO, opts_.ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)opts_.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)opts_.connect_timeout_ms);
    set_proxy(c, opts_);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "exoauth/" PACKAGE_VERSION);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (form) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form->str().c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)form->size());
    }
    CURLcode rc = curl_easy_perform(c);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
    resp.body = Secret(std::move(t.body));
    if (rc != CURLE_OK) {
        resp.status = 0;
        resp.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
        resp.error = t.too_big ? "answer larger than 256 KiB"
                               : std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(": ") + errbuf : "");
        resp.body.clear();
        return true;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
    return true;
}

} // namespace exo
