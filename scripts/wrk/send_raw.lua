-- wrk script: send pre-signed eth_sendRawTransaction bodies written by scripts/bench_wrk.py.
--
--   wrk -t T -c C -d D -s scripts/wrk/send_raw.lua http://127.0.0.1:PORT/ -- \
--       bodies=FILE result=OUT conns=C/T
--
-- FILE starts with a header line ("HBWRK1" and tab-separated key=value fields), then one line
-- per request body:  thread <TAB> group <TAB> seq <TAB> txs <TAB> body
-- Lines are sorted by thread, then group, then nonce round. A body is one JSON-RPC request (or a
-- batch); every JSON-RPC id in it is seq * 1000 + its position, so an answer names its body.
--
-- Slicing. wrk runs one Lua state per thread and request() is not told which connection it
-- serves, so slices are per thread: thread i sends only the lines whose first field is i (a
-- disjoint set of senders). Within a thread the bodies form groups (a group = a fixed set of
-- senders, one transaction of each per body, in nonce order). A group has at most one body in
-- flight: its next body is sent only after the answer to the previous one came back, so each
-- sender's nonces reach the node in order whichever of the thread's connections carries them.
-- request() walks the thread's groups round robin and sends the next body of the first group
-- with nothing in flight; no body is ever sent twice. bench_wrk.py makes at least C/T groups per
-- thread, so a free group exists until the slice runs out; then (or when none is free) the
-- thread waits 1 ms (delay()) and sends a cheap eth_chainId (id 0, counted as a filler). When
-- its slice is sent and answered the thread stops and writes OUT.done.<thread>.
--
-- done() writes OUT (JSON): wrk's summary and latency percentiles, and per thread the counts,
-- the first send / last answer times (CLOCK_REALTIME, seconds) and each body's latency in µs.

local ffi_ok, ffi = pcall(require, "ffi")
local clock = os.time
if ffi_ok then
   pcall(ffi.cdef, [[
      typedef struct { long tv_sec; long tv_nsec; } hbwrk_timespec;
      int clock_gettime(int clk_id, hbwrk_timespec *tp);
   ]])
   local ts = ffi.new("hbwrk_timespec")
   clock = function()
      ffi.C.clock_gettime(0, ts) -- CLOCK_REALTIME: Python's time.time()
      return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
   end
end

local FILLER_BODY = '{"jsonrpc":"2.0","id":0,"method":"eth_chainId","params":[]}'
local ID_STRIDE = 1000

-- ------------------------------------------------------------------ main state (setup, done)

local threads = {}

function setup(thread)
   thread:set("tid", #threads)
   -- wrk calls thread 0's request() once before the run to check the request (it is never
   -- sent): that call gets a filler, so no body is lost.
   thread:set("skip_first", #threads == 0)
   threads[#threads + 1] = thread
end

-- ------------------------------------------------------------------ thread state

tid = tid or 0
skip_first = skip_first or false
result_path = nil
n_planned_bodies, n_planned_txs = 0, 0
n_bodies_sent, n_txs_sent = 0, 0
n_bodies_answered, n_txs_answered = 0, 0
n_error_bodies, n_error_txs = 0, 0
n_http_errors, n_unmatched, n_bad = 0, 0, 0
n_fillers, n_filler_answers = 0, 0
t_first, t_last_send, t_last_answer = 0, 0, 0
lat = {}
error_samples = {}

local glist = {}   -- groups with bodies left to send
local by_seq = {}  -- seq -> its group
local cursor = 0
local ready = 0      -- groups with a body left and nothing in flight
local inflight = 0   -- bodies sent and not answered
local remaining = 0  -- bodies not sent yet
local filler_req = nil
local finished = false

local function sample_error(text)
   if #error_samples < 5 then
      error_samples[#error_samples + 1] = string.sub(text, 1, 300)
   end
end

local function count_errors(body)
   local n, pos = 0, 1
   while true do
      local s = string.find(body, '"error"', pos, true)
      if not s then return n end
      n = n + 1
      pos = s + 7
   end
end

function init(args)
   local opts = {}
   for i = 0, #args do
      local a = args[i]
      if type(a) == "string" then
         local k, v = string.match(a, "^(%a+)=(.*)$")
         if k then opts[k] = v end
      end
   end
   if not opts.bodies then error("send_raw.lua: give bodies=FILE after --") end
   result_path = opts.result
   local conns = tonumber(opts.conns or "1") or 1

   local headers = { ["Content-Type"] = "application/json", Host = wrk.headers["Host"] }
   local function http(body)
      return wrk.format("POST", wrk.path, headers, body)
   end
   filler_req = http(FILLER_BODY)

   local f, err = io.open(opts.bodies, "rb")
   if not f then error("send_raw.lua: " .. tostring(err)) end
   local header = f:read("*l")
   if not header or string.sub(header, 1, 6) ~= "HBWRK1" then
      f:close()
      error("send_raw.lua: " .. opts.bodies .. " is not a bench_wrk.py bodies file")
   end
   local prefix = tostring(tid) .. "\t"
   local seen = false
   local groups = {}
   for line in f:lines() do
      if string.sub(line, 1, #prefix) == prefix then
         seen = true
         local _, g, s, n, body = string.match(line, "^(%d+)\t(%d+)\t(%d+)\t(%d+)\t(.+)$")
         if not g then
            f:close()
            error("send_raw.lua: bad line in " .. opts.bodies .. ": " .. string.sub(line, 1, 80))
         end
         g, s, n = tonumber(g), tonumber(s), tonumber(n)
         local group = groups[g]
         if not group then
            group = { reqs = {}, seqs = {}, ntx = {}, count = 0, next = 1, busy = false,
                      seq = -1, sent_at = 0 }
            groups[g] = group
            glist[#glist + 1] = group
         end
         group.count = group.count + 1
         group.reqs[group.count] = http(body)
         group.seqs[group.count] = s
         group.ntx[group.count] = n
         by_seq[s] = group
         n_planned_bodies = n_planned_bodies + 1
         n_planned_txs = n_planned_txs + n
      elseif seen then
         break -- lines are sorted by thread: this thread's slice is over
      end
   end
   f:close()
   ready = #glist
   remaining = n_planned_bodies

   if conns > 1 then
      -- Several connections share this thread's groups: when none is free, wait a little
      -- instead of sending fillers in a tight loop.
      function delay()
         if ready > 0 or (remaining == 0 and inflight == 0) then return 0 end
         return 1
      end
   end
end

local function finish()
   if finished then return end
   finished = true
   if result_path then
      local f = io.open(result_path .. ".done." .. tostring(tid), "w")
      if f then f:close() end
   end
   wrk.thread:stop()
end

function request()
   if skip_first then
      skip_first = false
      return filler_req
   end
   if ready > 0 then
      local n = #glist
      for _ = 1, n do
         cursor = cursor + 1
         if cursor > n then cursor = 1 end
         local g = glist[cursor]
         if not g.busy then
            local i = g.next
            g.next = i + 1
            g.busy = true
            g.seq = g.seqs[i]
            local t = clock()
            g.sent_at = t
            if t_first == 0 then t_first = t end
            t_last_send = t
            ready = ready - 1
            inflight = inflight + 1
            remaining = remaining - 1
            n_bodies_sent = n_bodies_sent + 1
            n_txs_sent = n_txs_sent + g.ntx[i]
            if g.next > g.count then -- the group's last body: drop it from the walk
               glist[cursor] = glist[n]
               glist[n] = nil
               cursor = cursor - 1
            end
            return g.reqs[i]
         end
      end
   end
   if remaining == 0 and inflight == 0 then finish() end
   n_fillers = n_fillers + 1
   return filler_req
end

function response(status, headers, body)
   local t = clock()
   local errs = count_errors(body)
   local bad = status ~= 200 or errs > 0
   if status ~= 200 then n_http_errors = n_http_errors + 1 end
   local id = tonumber(string.match(body, '"id"%s*:%s*(%d+)') or "")
   if id == 0 then
      n_filler_answers = n_filler_answers + 1
      if bad then
         n_bad = n_bad + 1
         sample_error(body)
      end
      return
   end
   local seq = id and math.floor(id / ID_STRIDE)
   local g = seq and by_seq[seq]
   if not g or not g.busy or g.seq ~= seq then
      n_unmatched = n_unmatched + 1
      n_bad = n_bad + 1
      sample_error("HTTP " .. tostring(status) .. ": " .. body)
      return
   end
   g.busy = false
   inflight = inflight - 1
   if g.next <= g.count then ready = ready + 1 end
   lat[#lat + 1] = math.floor((t - g.sent_at) * 1e6 + 0.5)
   t_last_answer = t
   n_bodies_answered = n_bodies_answered + 1
   n_txs_answered = n_txs_answered + g.ntx[g.next - 1]
   if bad then
      n_bad = n_bad + 1
      if errs > 0 then
         n_error_bodies = n_error_bodies + 1
         n_error_txs = n_error_txs + errs
      end
      sample_error("HTTP " .. tostring(status) .. ": " .. body)
   end
   if remaining == 0 and inflight == 0 then finish() end
end

-- ------------------------------------------------------------------ done (main state)

local function jstr(s)
   s = string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end)
   return '"' .. s .. '"'
end

local function jnum(x)
   if x ~= x or x == math.huge or x == -math.huge then return "null" end
   if x == math.floor(x) and math.abs(x) < 2^53 then return string.format("%d", x) end
   return string.format("%.6f", x)
end

local COUNTERS = {
   "n_planned_bodies", "n_planned_txs", "n_bodies_sent", "n_txs_sent", "n_bodies_answered",
   "n_txs_answered", "n_error_bodies", "n_error_txs", "n_http_errors", "n_unmatched", "n_bad",
   "n_fillers", "n_filler_answers", "t_first", "t_last_send", "t_last_answer",
}

function done(summary, latency, requests)
   local path = threads[1] and threads[1]:get("result_path")
   if not path then
      io.stderr:write("send_raw.lua: no result=OUT argument: nothing written\n")
      return
   end
   local out = {}
   local function put(s) out[#out + 1] = s end
   put('{"version":1,"clock":' .. jstr(ffi_ok and "realtime" or "os.time"))
   put(',"duration_us":' .. jnum(summary.duration))
   put(',"requests":' .. jnum(summary.requests))
   put(',"bytes":' .. jnum(summary.bytes))
   local e = summary.errors
   put(string.format(',"socket_errors":{"connect":%s,"read":%s,"write":%s,"status":%s,"timeout":%s}',
      jnum(e.connect), jnum(e.read), jnum(e.write), jnum(e.status), jnum(e.timeout)))
   put(string.format(',"latency_us":{"min":%s,"max":%s,"mean":%s,"stdev":%s,"p50":%s,"p90":%s,"p99":%s,"p999":%s}',
      jnum(latency.min), jnum(latency.max), jnum(latency.mean), jnum(latency.stdev),
      jnum(latency:percentile(50)), jnum(latency:percentile(90)),
      jnum(latency:percentile(99)), jnum(latency:percentile(99.9))))
   put(',"threads":[')
   for i, thread in ipairs(threads) do
      if i > 1 then put(",") end
      put('{"tid":' .. jnum(thread:get("tid")))
      for _, name in ipairs(COUNTERS) do
         put(',"' .. name .. '":' .. jnum(thread:get(name) or 0))
      end
      local samples = thread:get("error_samples") or {}
      local quoted = {}
      for j, s in ipairs(samples) do quoted[j] = jstr(s) end
      put(',"error_samples":[' .. table.concat(quoted, ",") .. "]")
      local l = thread:get("lat") or {}
      put(',"lat_us":[' .. table.concat(l, ",") .. "]}")
   end
   put("]}\n")
   local f = io.open(path, "w")
   if not f then
      io.stderr:write("send_raw.lua: cannot write " .. path .. "\n")
      return
   end
   f:write(table.concat(out))
   f:close()
end
