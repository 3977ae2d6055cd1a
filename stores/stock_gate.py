"""The Redis admission gate in front of PostgreSQL for hot SKUs (DESIGN.md, issue #4).

PostgreSQL stays the arbiter of stock. The gate only refuses: every checkout it admits is still
decided by PostgreSQL's reservation, so it may refuse too early for a moment but is never the
reason more is sold than PostgreSQL holds. A SKU it has no count for (never built, or Redis
lost its data) is admitted with `known=False`, and PostgreSQL decides.

Per SKU it keeps `avail == last published PostgreSQL availability - units in live holds`:
- `admit` takes a tentative hold for an order, so a thousand buyers racing for the last
  hundred units are counted in one atomic script. Holds expire after `hold_seconds`, since a
  crashed checkout never settles, and then stop counting: their units return to `avail` when
  a script next touches the SKU.
- `publish` sets PostgreSQL's truth minus the live holds, so a checkout admitted but not yet
  reserved is not counted twice. It applies only a version newer than the stored one, so a
  late, out-of-order publish never raises the count with stale data. Versions are integers
  that grow with each stock change of a SKU in PostgreSQL; the caller provides them.
- `settle` ends a hold and gives its units back to `avail`: the reserve activity publishes
  after its commit, before the saga answers, so that publish already took them off as a live
  hold; a refused checkout never needed them. Without this the count would stay one order
  short until the SKU's next stock change.
- `rebuild` writes PostgreSQL's levels and marks the gate built. It never takes a SKU back to
  an older version either: a process starting while others serve traffic may read PostgreSQL
  before a concurrent publish lands. (A PostgreSQL restored to older versions therefore needs
  the namespace's keys deleted first.)

Keys, under `namespace`:
    {ns}:sku:{sku}     hash  avail, held (units in live holds), ver
    {ns}:exp:{sku}     zset  order_key -> hold expiry, ms on Redis's clock (no client clocks)
    {ns}:qty:{sku}     hash  order_key -> units held
    {ns}:hold:{order}  hash  sku -> units held; expires with the hold; what `settle` undoes
    {ns}:admitted:{order}    this checkout was admitted once: its retries are admitted again
    {ns}:refused:{order}     this checkout was refused (its fingerprint and shortages): its
                             retries are refused the same way, even once stock is back
    {ns}:skus          set   SKUs with a count, so `rebuild` can drop the others
    {ns}:built         the marker `rebuild` writes; gone after FLUSHALL or a restart
Scripts run by EVALSHA (`register_script`); redis-py loads them again when a restarted Redis
answers NOSCRIPT. Each is idempotent, so a client retrying connection errors is safe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

_COMMON = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function release(sku, exp, qty, order)
  local units = tonumber(redis.call('HGET', qty, order) or '0')
  redis.call('HDEL', qty, order)
  redis.call('ZREM', exp, order)
  if units > 0 and redis.call('EXISTS', sku) == 1 then
    redis.call('HINCRBY', sku, 'held', -units)
    redis.call('HINCRBY', sku, 'avail', units)
  end
end
local function prune(sku, exp, qty, now)
  for _, order in ipairs(redis.call('ZRANGEBYSCORE', exp, '-inf', now)) do
    release(sku, exp, qty, order)
  end
end
-- PostgreSQL's truth for a SKU, unless the gate already holds a newer (or, for a publish,
-- the same) version.
local function apply(skus, name, sku, exp, qty, available, version, now, recount)
  local stored = tonumber(redis.call('HGET', sku, 'ver') or '-1')
  if version < stored or (version == stored and not recount) then return 0 end
  -- Holds that outlived their SKU's count (a rebuild dropped it) are no longer counted.
  if stored < 0 then redis.call('DEL', exp, qty) end
  prune(sku, exp, qty, now)
  local held = tonumber(redis.call('HGET', sku, 'held') or '0')
  if recount then
    held = 0
    for _, units in ipairs(redis.call('HVALS', qty)) do held = held + tonumber(units) end
  end
  redis.call('HSET', sku, 'avail', available - held, 'held', held, 'ver', version)
  redis.call('SADD', skus, name)
  return 1
end
"""

# KEYS: hold record, then (sku, exp, qty) per SKU, then the admitted and refused markers.
# ARGV: ttl_ms, order_key, (sku, units)..., marker_ttl_ms, request fingerprint
_ADMIT = (
    _COMMON
    + """
local now, ttl, order = now_ms(), tonumber(ARGV[1]), ARGV[2]
local known, short, levels = 1, {}, {}
local admitted, refused = KEYS[#KEYS - 1], KEYS[#KEYS]
local marker_ttl, fingerprint = tonumber(ARGV[#ARGV - 1]), ARGV[#ARGV]
for i = 1, (#KEYS - 3) / 3 do
  local sku = KEYS[3 * i - 1]
  if redis.call('EXISTS', sku) == 1 then
    prune(sku, KEYS[3 * i], KEYS[3 * i + 1], now)
    levels[i] = tonumber(redis.call('HGET', sku, 'avail'))
    if levels[i] < tonumber(ARGV[2 + 2 * i]) then
      table.insert(short, i)
      table.insert(short, levels[i])
    end
  else
    known = 0
  end
end
-- Admitted before (a retry of the same checkout): it belongs to its saga, not to the gate,
-- whose count already excludes the units that saga reserved.
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', admitted) == 1 then
  return {1, known, 0}
end
-- Refused before: the same answer again, whatever the stock is now (the same key and body
-- answer the same status, API.md); another body under the key is a reused key.
local before = redis.call('GET', refused)
if before then
  local kept = cjson.decode(before)
  if kept.f ~= fingerprint then return {2, known, 0} end
  return {0, known, 0, unpack(kept.s)}
end
if #short > 0 then
  redis.call('SET', refused, cjson.encode({f = fingerprint, s = short}), 'PX', marker_ttl)
  return {0, known, 0, unpack(short)}
end
for i, _ in pairs(levels) do
  local units = tonumber(ARGV[2 + 2 * i])
  redis.call('HINCRBY', KEYS[3 * i - 1], 'avail', -units)
  redis.call('HINCRBY', KEYS[3 * i - 1], 'held', units)
  redis.call('ZADD', KEYS[3 * i], now + ttl, order)
  redis.call('HSET', KEYS[3 * i + 1], order, units)
  redis.call('HSET', KEYS[1], ARGV[1 + 2 * i], units)
  redis.call('PEXPIREAT', KEYS[1], now + ttl)
end
redis.call('SET', admitted, 1, 'PX', marker_ttl)
return {1, known, 1}
"""
)

# KEYS: hold record, then (sku, exp, qty) per SKU the record names. ARGV: order_key.
_SETTLE = (
    _COMMON
    + """
for i = 1, (#KEYS - 1) / 3 do
  release(KEYS[3 * i - 1], KEYS[3 * i], KEYS[3 * i + 1], ARGV[1])
end
redis.call('DEL', KEYS[1])
"""
)

# KEYS: skus, sku, exp, qty. ARGV: sku name, available, version.
_PUBLISH = (
    _COMMON
    + """
return apply(KEYS[1], ARGV[1], KEYS[2], KEYS[3], KEYS[4],
  tonumber(ARGV[2]), tonumber(ARGV[3]), now_ms(), false)
"""
)

# KEYS: marker, skus, then (sku, exp, qty) per SKU. ARGV: (name, available, version) per SKU;
# an empty version drops a SKU that PostgreSQL's levels no longer name.
_REBUILD = (
    _COMMON
    + """
local now = now_ms()
for i = 1, (#KEYS - 2) / 3 do
  local name, sku, exp, qty = ARGV[3 * i - 2], KEYS[3 * i], KEYS[3 * i + 1], KEYS[3 * i + 2]
  if ARGV[3 * i] == '' then
    redis.call('DEL', sku, exp, qty)
    redis.call('SREM', KEYS[2], name)
  else
    apply(KEYS[2], name, sku, exp, qty, tonumber(ARGV[3 * i - 1]), tonumber(ARGV[3 * i]), now, true)
  end
end
redis.call('SET', KEYS[1], now)
"""
)

# KEYS: sku, exp, qty.
_AVAILABLE = (
    _COMMON
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
prune(KEYS[1], KEYS[2], KEYS[3], now_ms())
return tonumber(redis.call('HGET', KEYS[1], 'avail'))
"""
)


# How long the gate remembers an admitted checkout, so that its retries (after a 504, say)
# attach to its saga instead of being counted again: longer than any client retries.
ADMITTED_MEMORY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class GateLine:
    sku: str
    quantity: int


@dataclass(frozen=True)
class GateShortage:
    sku: str
    requested: int
    available: int


@dataclass(frozen=True)
class Admission:
    admitted: bool
    shortages: list[GateShortage]
    # False when the gate had no count for some SKU: admitted, and PostgreSQL decides.
    known: bool
    # This call took a hold (a first checkout); a retry of an admitted one takes none, and must
    # not settle the hold its first request still counts on.
    held: bool = False
    # The key was refused before for another request body: 422, not a refusal.
    reused: bool = False


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class StockGate:
    def __init__(self, redis: Redis, *, namespace: str = "gate") -> None:
        self._redis = redis
        self._ns = namespace
        self._admit = redis.register_script(_ADMIT)
        self._settle = redis.register_script(_SETTLE)
        self._publish = redis.register_script(_PUBLISH)
        self._rebuild = redis.register_script(_REBUILD)
        self._available = redis.register_script(_AVAILABLE)

    def _sku_keys(self, sku: str) -> list[str]:
        return [f"{self._ns}:sku:{sku}", f"{self._ns}:exp:{sku}", f"{self._ns}:qty:{sku}"]

    def _hold_key(self, order_key: str) -> str:
        return f"{self._ns}:hold:{order_key}"

    async def admit(
        self,
        order_key: str,
        lines: Sequence[GateLine],
        hold_seconds: float = 30.0,
        *,
        fingerprint: str = "",
    ) -> Admission:
        wanted: dict[str, int] = {}
        for line in lines:
            if line.quantity <= 0:
                raise ValueError(f"quantity must be positive: {line}")
            wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
        ttl_ms = round(hold_seconds * 1000)
        if ttl_ms <= 0:
            raise ValueError("hold_seconds must be positive")
        keys = [self._hold_key(order_key)]
        args: list[str | int] = [ttl_ms, order_key]
        for sku, units in wanted.items():
            keys += self._sku_keys(sku)
            args += [sku, units]
        keys += [f"{self._ns}:admitted:{order_key}", f"{self._ns}:refused:{order_key}"]
        args += [ADMITTED_MEMORY_MS, fingerprint]
        result = await self._admit(keys=keys, args=args)
        if int(result[0]) == 2:
            return Admission(admitted=False, shortages=[], known=bool(result[1]), reused=True)
        skus = list(wanted)
        shortages = [
            GateShortage(skus[i - 1], wanted[skus[i - 1]], max(int(level), 0))
            for i, level in zip(result[3::2], result[4::2], strict=True)
        ]
        return Admission(
            admitted=bool(result[0]),
            shortages=shortages,
            known=bool(result[1]),
            held=bool(result[2]),
        )

    async def settle(self, order_key: str) -> None:
        hold = self._hold_key(order_key)
        # The record never changes once written, so reading it before the script is safe.
        keys = [hold]
        for sku in await self._redis.hkeys(hold):
            keys += self._sku_keys(_text(sku))
        await self._settle(keys=keys, args=[order_key])

    async def publish(self, sku: str, available: int, version: int) -> None:
        keys = [f"{self._ns}:skus", *self._sku_keys(sku)]
        await self._publish(keys=keys, args=[sku, int(available), int(version)])

    async def rebuild(self, levels: Mapping[str, tuple[int, int]]) -> None:
        counted = {_text(s) for s in await self._redis.smembers(f"{self._ns}:skus")}
        keys: list[str] = [f"{self._ns}:built", f"{self._ns}:skus"]
        args: list[str | int] = []
        for sku, (available, version) in levels.items():
            keys += self._sku_keys(sku)
            args += [sku, int(available), int(version)]
        for sku in counted - set(levels):
            keys += self._sku_keys(sku)
            args += [sku, 0, ""]
        await self._rebuild(keys=keys, args=args)

    async def is_built(self) -> bool:
        return bool(await self._redis.exists(f"{self._ns}:built"))

    async def available(self, sku: str) -> int | None:
        level = await self._available(keys=self._sku_keys(sku))
        return None if level is None else max(int(level), 0)
