// pulsestream-keys: creates clients and API keys (printed once, stored as SHA-256), lists
// clients, activates, deactivates and rotates keys and sets rate limits, with immediate effect
// on running gateways (DESIGN.md §10 "Key revocation"). Works against any DATABASE_URL and
// REDIS_URL (environment or flags).
//
// Exit codes: 0 done; 1 refused or failed, nothing changed; 2 bad command line; 3 the change is
// stored in PostgreSQL but Redis could not be told (gateways see it when their caches expire).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "cache_invalidator.hpp"
#include "client_admin.hpp"

namespace {

using namespace pulsestream::keys;
using nlohmann::json;

constexpr int exit_ok = 0;
constexpr int exit_failed = 1;
constexpr int exit_usage = 2;
constexpr int exit_not_propagated = 3;

struct settings {
    std::string database_url;
    std::string redis_url;
    int settle_ms = 1000;
    int redis_timeout_ms = 2000;
};

std::string env_or(const char* name, const char* fallback) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : fallback;
}

json to_json(const client_row& c) {
    json j{{"id", c.id},
           {"name", c.name},
           {"prefix", c.prefix},
           {"active", c.active},
           {"rate_limit_per_sec", nullptr},
           {"created_at", c.created_at}};
    if (c.rate_limit_per_sec) j["rate_limit_per_sec"] = *c.rate_limit_per_sec;
    return j;
}

std::string rate_text(const client_row& c) {
    return c.rate_limit_per_sec ? std::to_string(*c.rate_limit_per_sec) + "/s" : "default";
}

void print_table(const std::vector<client_row>& clients) {
    std::size_t name_width = 4;
    for (const auto& c : clients) name_width = std::max(name_width, c.name.size());
    std::printf("%-36s  %-*s  %-16s  %-6s  %-10s  %s\n", "ID", static_cast<int>(name_width), "NAME",
                "PREFIX", "ACTIVE", "RATE", "CREATED");
    for (const auto& c : clients) {
        std::printf("%-36s  %-*s  %-16s  %-6s  %-10s  %s\n", c.id.c_str(),
                    static_cast<int>(name_width), c.name.c_str(), c.prefix.c_str(),
                    c.active ? "yes" : "no", rate_text(c).c_str(), c.created_at.c_str());
    }
}

void print_new_key(const issued_key& issued, bool as_json, const char* what) {
    if (as_json) {
        auto j = to_json(issued.client);
        j["api_key"] = issued.api_key;
        std::cout << j.dump() << '\n';
        return;
    }
    std::printf("%s client %s (%s)\n", what, issued.client.id.c_str(), issued.client.name.c_str());
    std::printf("  prefix      %s\n", issued.client.prefix.c_str());
    std::printf("  rate limit  %s\n", rate_text(issued.client).c_str());
    std::printf("  api key     %s\n", issued.api_key.c_str());
    std::printf("The key is shown only this once: PulseStream stores only its SHA-256.\n");
}

// The change is committed; tells the gateways, and says plainly what it means when it cannot.
int propagate(const settings& s, const std::vector<std::string>& hashes) {
    cache_invalidator invalidator(s.redis_url, std::chrono::milliseconds(s.redis_timeout_ms));
    const auto report = invalidator.invalidate(hashes, std::chrono::milliseconds(s.settle_ms));
    if (!report.delivered) {
        std::fprintf(stderr,
                     "pulsestream-keys: the change is stored in PostgreSQL, but Redis could not be "
                     "told: %s\n"
                     "  Gateways may keep answering from their caches until the entries expire: up "
                     "to twice AUTH_CACHE_TTL_S\n"
                     "  (default 300 s) for a known key, AUTH_NEGATIVE_TTL_S for an unknown one.\n"
                     "  When Redis is reachable again, run:\n    pulsestream-keys invalidate",
                     report.error.c_str());
        for (const auto& h : hashes) std::fprintf(stderr, " --hash %s", h.c_str());
        std::fprintf(stderr, "\n");
        return exit_not_propagated;
    }
    std::fprintf(stderr, "caches invalidated: auth:invalidate reached %lld subscriber(s)\n",
                 report.subscribers);
    if (report.subscribers == 0) {
        std::fprintf(stderr,
                     "  no gateway listens on this Redis; a gateway using another Redis keeps its "
                     "cached answer up to AUTH_CACHE_TTL_S\n");
    }
    return exit_ok;
}

int report_change(const settings& s, const key_change& change, const std::string& what) {
    std::printf("client %s (%s, key prefix %s): %s\n", change.client.id.c_str(),
                change.client.name.c_str(), change.client.prefix.c_str(), what.c_str());
    std::fflush(stdout);
    return propagate(s, change.stale_key_hashes);
}

bool is_key_hash(const std::string& text) {
    static const std::regex hex64("^[0-9a-f]{64}$");
    return std::regex_match(text, hex64);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"pulsestream-keys: PulseStream clients and API keys"};
    app.require_subcommand(1);
    app.fallthrough();  // global flags may follow the subcommand
    settings s;
    s.database_url =
        env_or("DATABASE_URL", "postgresql://postgres:postgres@localhost:5432/pulsestream");
    s.redis_url = env_or("REDIS_URL", "redis://localhost:6379");
    app.add_option("--database-url", s.database_url, "PostgreSQL (default: $DATABASE_URL)");
    app.add_option("--redis-url", s.redis_url, "Redis the gateways use (default: $REDIS_URL)");
    app.add_option("--settle-ms", s.settle_ms,
                   "delay before the second cache DEL after a change (0: none)")
        ->check(CLI::Range(0, 60000));
    app.add_option("--redis-timeout-ms", s.redis_timeout_ms, "Redis connect and command deadline")
        ->check(CLI::Range(1, 60000));

    auto* create = app.add_subcommand("create", "create a client and print its new key once");
    std::string name;
    std::string rate_arg = "none";
    bool json_out = false;
    create->add_option("--name", name, "client name")->required();
    create->add_option("--rate-limit", rate_arg, "events/s, or 'none' for RATE_LIMIT_PER_KEY");
    create->add_flag("--json", json_out, "print one JSON object");

    auto* list = app.add_subcommand("list", "list clients (never keys)");
    list->add_flag("--json", json_out, "print one JSON array");

    std::string selector;
    const char* selector_help = "client id, or its exact key prefix";
    auto* deactivate = app.add_subcommand("deactivate", "refuse the client's key (401)");
    deactivate->add_option("client", selector, selector_help)->required();
    auto* activate = app.add_subcommand("activate", "accept the client's key again");
    activate->add_option("client", selector, selector_help)->required();
    auto* rotate = app.add_subcommand("rotate", "give the client a new key; the old one stops");
    rotate->add_option("client", selector, selector_help)->required();
    rotate->add_flag("--json", json_out, "print one JSON object");
    auto* set_rate = app.add_subcommand("set-rate-limit", "set the client's events/s or 'none'");
    set_rate->add_option("client", selector, selector_help)->required();
    set_rate->add_option("rate", rate_arg, "events/s, or 'none'")->required();
    auto* invalidate =
        app.add_subcommand("invalidate", "tell the gateways again (after Redis was unreachable)");
    std::vector<std::string> hashes;
    invalidate->add_option("client", selector, selector_help);
    invalidate->add_option("--hash", hashes, "a key's SHA-256 hex; repeatable");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? exit_ok : exit_usage;
    }

    try {
        if (invalidate->parsed()) {
            if (selector.empty() && hashes.empty()) {
                std::fprintf(stderr, "invalidate: give a client or --hash\n");
                return exit_usage;
            }
            for (const auto& h : hashes) {
                if (!is_key_hash(h)) {
                    std::fprintf(stderr, "invalidate: --hash %s is not 64 lower-case hex\n",
                                 h.c_str());
                    return exit_usage;
                }
            }
            if (!selector.empty()) {
                client_admin admin(s.database_url);
                const auto current = admin.current(selector);
                hashes.insert(hashes.end(), current.stale_key_hashes.begin(),
                              current.stale_key_hashes.end());
            }
            return propagate(s, hashes);
        }
        client_admin admin(s.database_url);
        if (create->parsed()) {
            print_new_key(admin.create(name, parse_rate_limit(rate_arg)), json_out, "created");
            return exit_ok;
        }
        if (list->parsed()) {
            const auto clients = admin.list();
            if (json_out) {
                json rows = json::array();
                for (const auto& c : clients) rows.push_back(to_json(c));
                std::cout << rows.dump() << '\n';
            } else {
                print_table(clients);
            }
            return exit_ok;
        }
        if (deactivate->parsed())
            return report_change(s, admin.set_active(selector, false), "deactivated");
        if (activate->parsed())
            return report_change(s, admin.set_active(selector, true), "activated");
        if (set_rate->parsed()) {
            const auto change = admin.set_rate_limit(selector, parse_rate_limit(rate_arg));
            return report_change(s, change, "rate limit set to " + rate_text(change.client));
        }
        if (rotate->parsed()) {
            auto [change, key] = admin.rotate(selector);
            print_new_key(issued_key{change.client, key}, json_out, "rotated the key of");
            std::fflush(stdout);
            return propagate(s, change.stale_key_hashes);
        }
    } catch (const admin_error& e) {
        std::fprintf(stderr, "pulsestream-keys: %s\n", e.what());
        return exit_failed;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pulsestream-keys: %s\n", e.what());
        return exit_failed;
    }
    return exit_usage;
}
