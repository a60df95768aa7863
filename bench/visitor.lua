-- wrk script: every request carries a visitor cookie with a random id out
-- of BENCH_IDS profiles ("u1" .. "uN"), named BENCH_COOKIE (default pzid;
-- the anonymous scenario sends another name so wrk's work stays the same).

local n = tonumber(os.getenv("BENCH_IDS") or "1000000")
local name = os.getenv("BENCH_COOKIE") or "pzid"
local path = os.getenv("BENCH_PATH") or "/"

-- BENCH_COOKIES names a file of cookie values, one a line (signed ids
-- minted by pz-sign): each request picks one of them at random instead
local values = nil
local file = os.getenv("BENCH_COOKIES")
if file and file ~= "" then
    values = {}
    for line in io.lines(file) do values[#values + 1] = line end
end

function setup(thread)
    thread:set("seed", math.random(1, 2147483647))
end

function init(args)
    math.randomseed(seed or os.time())
end

function request()
    local v = values and values[math.random(1, #values)]
              or "u" .. math.random(1, n)
    return wrk.format("GET", path, { ["Cookie"] = name .. "=" .. v })
end
