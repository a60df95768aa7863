-- wrk script: every request carries a visitor cookie with a random id out
-- of BENCH_IDS profiles ("u1" .. "uN"), named BENCH_COOKIE (default pzid;
-- the anonymous scenario sends another name so wrk's work stays the same).

local n = tonumber(os.getenv("BENCH_IDS") or "1000000")
local name = os.getenv("BENCH_COOKIE") or "pzid"
local path = os.getenv("BENCH_PATH") or "/"

function setup(thread)
    thread:set("seed", math.random(1, 2147483647))
end

function init(args)
    math.randomseed(seed or os.time())
end

function request()
    return wrk.format("GET", path,
                      { ["Cookie"] = name .. "=u" .. math.random(1, n) })
end
