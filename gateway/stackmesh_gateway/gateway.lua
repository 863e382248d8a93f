-- Envoy Lua filter of the stackmesh gateway. render.py prepends, from the descriptor set and
-- the distribution: START_TRACES and TRACE_SAMPLE_RATIO (below); STREAM_PATHS (path -> true), the upstream paths that also have a `:stream`
-- binding, and STREAM_PATTERNS, Lua patterns of those with path variables; UPLOAD_PATTERNS, Lua patterns of the POST paths whose body streams to a service
-- unbuffered; MAX_UPLOAD_BYTES, their size limit; and UPLOAD_REFUSED_HEADER.

-- Finds a top-level `"stream": true` in a JSON object without a JSON library: tracks string
-- and nesting state so the same text inside a message or a nested object does not count.
local function top_level_stream(body)
  if not string.find(body, '"stream"', 1, true) then
    return false
  end
  local depth, i, n = 0, 1, #body
  local byte = string.byte
  while i <= n do
    local c = byte(body, i)
    if c == 34 then -- a string: skip it, noting whether it is the key "stream" at depth 1
      local j = i + 1
      while j <= n do
        local d = byte(body, j)
        if d == 92 then
          j = j + 2
        elseif d == 34 then
          break
        else
          j = j + 1
        end
      end
      if depth == 1 and string.sub(body, i, j) == '"stream"' then
        local k = string.find(body, "[^%s]", j + 1)
        if k and byte(body, k) == 58 then -- ':'
          local v = string.find(body, "[^%s]", k + 1)
          return v ~= nil and string.sub(body, v, v + 3) == "true"
        end
      end
      i = j + 1
    else
      if c == 123 or c == 91 then
        depth = depth + 1
      elseif c == 125 or c == 93 then
        depth = depth - 1
      end
      i = i + 1
    end
  end
  return false
end

local function matches_any(path, patterns)
  for _, pattern in ipairs(patterns) do
    if string.find(path, pattern) then
      return true
    end
  end
  return false
end

-- Refuses an upload that declares a body over the limit before any of it is streamed; the
-- service counts the bytes of bodies without a Content-Length (and answers 413 too).
local function refuse_large_upload(handle, headers)
  local length = tonumber(headers:get("content-length") or "")
  if length == nil or length <= MAX_UPLOAD_BYTES then
    return
  end
  -- Local reply mappers filter on request headers: this one selects the mapper that puts the
  -- message below in the error envelope.
  headers:add(UPLOAD_REFUSED_HEADER, "1")
  handle:respond(
    { [":status"] = "413", ["connection"] = "close" },
    "The upload is " .. length .. " bytes, over the " .. MAX_UPLOAD_BYTES .. " byte limit"
  )
end

-- Without a collector Envoy's tracer is off, so this starts the W3C trace of a request that
-- comes without one; the services continue it. Ids need to be unique, not secret.
math.randomseed(os.time() + tonumber(string.match(tostring({}), "0x(%x+)") or "0", 16) % 1000003)

local function new_traceparent()
  local r = math.random
  local flags = r() < TRACE_SAMPLE_RATIO and "01" or "00"
  return string.format(
    "00-%04x%04x%04x%04x%04x%04x%04x%04x-%04x%04x%04x%04x-%s",
    r(0, 65535), r(0, 65535), r(0, 65535), r(0, 65535), r(0, 65535), r(0, 65535), r(0, 65535), r(1, 65535),
    r(0, 65535), r(0, 65535), r(0, 65535), r(1, 65535), flags
  )
end

function envoy_on_request(handle)
  local headers = handle:headers()
  if START_TRACES and headers:get("traceparent") == nil then
    headers:add("traceparent", new_traceparent())
  end
  if headers:get(":method") ~= "POST" then
    return
  end
  local path = headers:get(":path")
  local bare = string.match(path, "^[^?]*")
  if matches_any(bare, UPLOAD_PATTERNS) then
    refuse_large_upload(handle, headers)
    return
  end
  if not STREAM_PATHS[bare] and not matches_any(bare, STREAM_PATTERNS) then
    return
  end
  local body = handle:body()
  if body == nil then
    return
  end
  if top_level_stream(body:getBytes(0, body:length())) then
    -- Header handles taken before body() are invalid afterwards; fetch them again.
    handle:headers():replace(":path", bare .. ":stream" .. string.sub(path, #bare + 1))
  end
end

-- The raw JSON text of the string value of `key` (quotes included), or nil.
local function json_string(body, key)
  local start = string.find(body, '"' .. key .. '":"', 1, true)
  if not start then
    return nil
  end
  local i = start + #key + 3
  local j, n = i + 1, #body
  while j <= n do
    local d = string.byte(body, j)
    if d == 92 then
      j = j + 2
    elseif d == 34 then
      return string.sub(body, i, j)
    else
      j = j + 1
    end
  end
  return nil
end

local DEFAULT_TYPE = {
  ["400"] = "invalid_request_error", ["401"] = "authentication_error", ["403"] = "permission_error",
  ["404"] = "invalid_request_error", ["409"] = "invalid_request_error", ["413"] = "invalid_request_error",
  ["429"] = "rate_limit_error", ["503"] = "api_error", ["504"] = "timeout_error",
}
local DEFAULT_CODE = {
  ["400"] = "invalid_request", ["401"] = "unauthenticated", ["403"] = "permission_denied",
  ["404"] = "not_found", ["409"] = "conflict", ["413"] = "request_too_large", ["429"] = "rate_limit_exceeded",
  ["499"] = "cancelled", ["500"] = "internal_error", ["501"] = "not_implemented", ["503"] = "service_unavailable",
  ["504"] = "timeout",
}

-- Error reasons whose HTTP status has no gRPC code of its own (gRPC says RESOURCE_EXHAUSTED
-- both for a rate limit, 429, and for a body over a size limit, 413).
local STATUS_BY_REASON = { ['"request_too_large"'] = "413" }

-- Rewrites the transcoder's google.rpc.Status JSON of a failed call into OpenAI's envelope
-- {"error": {"message", "type", "param", "code"}}, using the ErrorInfo the services attach.
function envoy_on_response(handle)
  local status = handle:headers():get(":status")
  if status == nil or string.sub(status, 1, 1) == "2" then
    return
  end
  local content_type = handle:headers():get("content-type") or ""
  if not string.find(content_type, "application/json", 1, true) then
    return
  end
  local buffer = handle:body()
  if buffer == nil then
    return
  end
  local body = buffer:getBytes(0, buffer:length())
  if string.sub(body, 1, 9) == '{"error":' then
    return -- already shaped (a local reply)
  end
  local message = json_string(body, "message") or '"request failed"'
  local service = handle:headers():get("x-stackmesh-service")
  if status == "503" and service and not json_string(body, "reason") then
    message = '"the ' .. service .. ' service is unavailable: ' .. string.sub(message, 2)
  end
  local error_type = json_string(body, "error_type") or ('"' .. (DEFAULT_TYPE[status] or "api_error") .. '"')
  local code = json_string(body, "reason") or ('"' .. (DEFAULT_CODE[status] or ("http_" .. status)) .. '"')
  local param = json_string(body, "param") or "null"
  local shaped = '{"error":{"message":' .. message .. ',"type":' .. error_type .. ',"param":' .. param .. ',"code":' .. code .. "}}"
  buffer:setBytes(shaped)
  if STATUS_BY_REASON[code] then
    handle:headers():replace(":status", STATUS_BY_REASON[code])
  end
  handle:headers():replace("content-length", tostring(#shaped))
end
