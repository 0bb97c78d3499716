-- wrk script: POST /v1/events with a fresh Idempotency-Key and deviceId on every request.
-- BATCH=N (environment) sends arrays of N events instead of single events.
-- API_KEY (environment) defaults to the development key seeded by schema.sql.

local api_key = os.getenv("API_KEY") or "ps_live_test_key_abc123xyz"
local batch = tonumber(os.getenv("BATCH") or "0")

-- A random (version 4) UUID from six draws, formatted in one call. wrk shares the two cores with
-- the server under test, so its CPU per request counts: the byte-by-byte version this replaces
-- (16 draws, 16 formats, 5 joins) was most of wrk's work for a batch, which needs 101 UUIDs.
local function uuid4()
    return string.format("%08x-%04x-4%03x-%04x-%04x%08x",
        math.random(0, 0xffffffff), math.random(0, 0xffff), math.random(0, 0xfff),
        math.random(0x8000, 0xbfff),  -- RFC 4122 variant: the top two bits are 10
        math.random(0, 0xffff), math.random(0, 0xffffffff))
end

local function event()
    return string.format(
        '{"deviceId":"%s","eventType":"temperature","value":%d.5,"timestamp":%d}',
        uuid4(), math.random(0, 100), os.time() * 1000)
end

-- Seeded from /dev/urandom: a seed made of the clock can repeat in two runs a few seconds
-- apart (warm-up, then measurement), which then reuse each other's Idempotency-Keys with other
-- bodies and get 422s that are the script's fault, not the gateway's.
local function random_seed()
    local f = assert(io.open("/dev/urandom", "rb"))
    local b1, b2, b3, b4 = f:read(4):byte(1, 4)
    f:close()
    return ((b1 * 256 + b2) * 256 + b3) * 256 + b4
end

function init(args)
    math.randomseed(random_seed())
end

function request()
    local body
    if batch > 0 then
        local items = {}
        for i = 1, batch do items[i] = event() end
        body = "[" .. table.concat(items, ",") .. "]"
    else
        body = event()
    end
    return wrk.format("POST", "/v1/events", {
        ["Content-Type"] = "application/json",
        ["x-api-key"] = api_key,
        ["Idempotency-Key"] = uuid4(),
    }, body)
end

-- One machine-readable line for run.sh, after wrk's own report.
function done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    local s = summary.errors
    io.write(string.format(
        "RESULT requests=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f non_2xx=%d socket_errors=%d\n",
        summary.requests, summary.requests / seconds, latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, s.status, s.connect + s.read + s.write + s.timeout))
end
