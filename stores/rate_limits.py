"""Token buckets in Redis, one per API key (or client address): one script, one round trip.

A bucket holds at most `limit` tokens and refills at `limit` per `window`; each request takes
one. The script reads, refills, takes and writes in one step (Redis runs a script atomically),
so API processes sharing the Redis never both spend the last token. Time is the Redis
server's (TIME): API processes on several machines need not agree on the clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

# KEYS[1] the bucket; ARGV[1] limit (tokens), ARGV[2] window (ms).
# Returns {allowed (0/1), tokens left (floor), ms until one token, ms until full}.
_TAKE = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = limit
  at = now_ms
end
local rate = limit / window
if now_ms > at then
  tokens = math.min(limit, tokens + (now_ms - at) * rate)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now_ms))
-- A bucket untouched for a window is full again: forgetting it is the same answer.
redis.call('PEXPIRE', KEYS[1], window)
local wait = 0
if tokens < 1 then
  wait = math.ceil((1 - tokens) / rate)
end
return {allowed, math.floor(tokens), wait, math.ceil((limit - tokens) / rate)}
"""


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    # Seconds until the next request would be allowed (0 when it is), and until the bucket
    # is full again (the IETF RateLimit-Reset).
    retry_after: int
    reset: int


class RateLimits:
    def __init__(self, redis: Redis) -> None:
        self._take = redis.register_script(_TAKE)

    async def take(self, bucket: str, limit: int, window_seconds: float) -> Verdict:
        window_ms = max(1, round(window_seconds * 1000))
        # The limit and window name the bucket: a changed setting starts a fresh, full bucket
        # rather than reading one sized for another limit.
        key = f"ratelimit:{limit}/{window_ms}:{bucket}"
        allowed, remaining, wait_ms, full_ms = await self._take(keys=[key], args=[limit, window_ms])
        return Verdict(
            allowed=bool(allowed),
            limit=limit,
            remaining=max(0, int(remaining)),
            retry_after=_seconds(int(wait_ms)),
            reset=_seconds(int(full_ms)),
        )


def _seconds(ms: int) -> int:
    return max(0, -(-ms // 1000))
