-- Envoy Lua filter of the stackmesh gateway with auth on: a per-worker cache of the auth
-- service's recent "allowed" answers, so a client repeating a call with the same credential
-- skips the ext_authz round trip. It sits after the transcoder (paths are gRPC method paths)
-- and before ext_authz, which runs only when this filter marks the request as a miss.
-- render.py prepends CACHE_NAMESPACE, CHECK_KEY, VERDICT_NAMESPACE, PRINCIPAL_HEADER,
-- ATTRIBUTES_HEADER and MAX_ENTRIES.
--
-- The auth service decides what may be cached and until when (expires_ms, Unix time in its
-- dynamic metadata): never past its own 2 s key cache entry (a revoked key is refused within
-- that) or the credential's expiry, and never for a caller under a request rate limit (each
-- of those requests must be counted). Refusals are never cached.

-- "authorization value \n method path" -> { principal, attributes, expires_ms }
local entries = {}
local count = 0

local function cache_key(headers)
  local credential = headers:get("authorization")
  if credential == nil then
    return nil
  end
  return credential .. "\n" .. string.match(headers:get(":path"), "^[^?]*")
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local key = cache_key(headers)
  if key ~= nil then
    local entry = entries[key]
    if entry ~= nil and entry.expires_ms > handle:timestamp() then
      -- What ext_authz's allowed answer does: the verified identity replaces anything the
      -- caller sent, and the credential goes no further.
      headers:replace(PRINCIPAL_HEADER, entry.principal)
      headers:replace(ATTRIBUTES_HEADER, entry.attributes)
      headers:remove("authorization")
      return
    end
    handle:streamInfo():dynamicMetadata():set(CACHE_NAMESPACE, CHECK_KEY, key)
    return
  end
  -- No credential: ext_authz answers with the 401.
  handle:streamInfo():dynamicMetadata():set(CACHE_NAMESPACE, CHECK_KEY, "")
end

function envoy_on_response(handle)
  local metadata = handle:streamInfo():dynamicMetadata()
  local mine = metadata:get(CACHE_NAMESPACE)
  if mine == nil or mine[CHECK_KEY] == nil or mine[CHECK_KEY] == "" then
    return
  end
  local verdict = metadata:get(VERDICT_NAMESPACE)
  if verdict == nil or verdict.expires_ms == nil or verdict.expires_ms <= handle:timestamp() then
    return
  end
  if count >= MAX_ENTRIES then
    entries, count = {}, 0
  end
  local key = mine[CHECK_KEY]
  if entries[key] == nil then
    count = count + 1
  end
  entries[key] = {
    principal = verdict.principal,
    attributes = verdict.attributes,
    expires_ms = verdict.expires_ms,
  }
end
