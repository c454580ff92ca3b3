-- wrk script: POST /v1/batch with a Segment batch of 100 track events per request.
--
-- Every request carries new messageIds (thread number, request counter), so nothing is a
-- duplicate and every event is stored and processed; users cycle through 20,000 ids, as in
-- `wafa bench events`. The write key comes from WAFA_WRITE_KEY; WAFA_WRK_DELAY_MS (optional)
-- makes each connection wait that long after a response before its next request, which
-- caps the rate at about connections × 1000 / (delay + latency) requests/s (wrk itself is
-- closed-loop: without a delay it measures the most the server accepts).
--
--   WAFA_WRITE_KEY=… wrk -t2 -c8 -d20s --latency -s bench/wrk/events.lua http://127.0.0.1:8080
-- or run bench/wrk/events.sh, which also starts the server and waits for processing.

local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

function init(args)
   local key = os.getenv("WAFA_WRITE_KEY") or ""
   local b64 = function(data)
      local chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
      return ((data:gsub(".", function(x)
         local r, byte = "", x:byte()
         for i = 8, 1, -1 do r = r .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and "1" or "0") end
         return r
      end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
         if #x < 6 then return "" end
         local c = 0
         for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
         return chars:sub(c + 1, c + 1)
      end) .. ({ "", "==", "=" })[#data % 3 + 1])
   end
   wrk.method = "POST"
   wrk.path = "/v1/batch"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Authorization"] = "Basic " .. b64(key .. ":")
   delay_ms = tonumber(os.getenv("WAFA_WRK_DELAY_MS") or "0")
end

function request()
   counter = counter + 1
   local parts = {}
   for i = 0, 99 do
      local n = counter * 100 + i
      parts[#parts + 1] = string.format(
         '{"type":"track","userId":"u%d","event":"Product Viewed","messageId":"wrk-%d-%d-%d",' ..
         '"timestamp":"2026-11-01T10:00:00Z","properties":{"product_id":"p%d","price":49.5,"currency":"SAR"}}',
         (n * 7 + tid * 7919) % 20000, tid, counter, i, n % 500)
   end
   return wrk.format(nil, nil, nil, '{"batch":[' .. table.concat(parts, ",") .. ']}')
end

function delay()
   return delay_ms
end

done = function(summary, latency, requests)
   io.write(string.format("events accepted: %d requests ok = %.0f events/s (%d non-2xx, %d errors)\n",
      summary.requests - summary.errors.status, (summary.requests - summary.errors.status) * 100 / (summary.duration / 1e6),
      summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
   io.write(string.format("request latency: p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms\n",
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
