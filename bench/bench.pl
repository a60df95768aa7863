#!/usr/bin/perl
# make bench: ngx_personalize against bare nginx and its peers, on one
# machine, one page, one nginx worker, wrk on loopback; several alternating
# rounds, medians reported.  See bench/RESULTS.md for the last figures.
#
#   perl bench/bench.pl                    (make bench)
#
# Environment (defaults in brackets):
#   BUILD                 build directory with the module and tools [build]
#   BENCH_PROFILES        profiles in the main store [1000000]
#   BENCH_SMALL           profiles in the small store [10000]
#   BENCH_LARGE           profiles in the large store, 0 skips [10000000]
#   BENCH_ROUNDS          alternating rounds [7]
#   BENCH_SECONDS         seconds per wrk run [4]
#   BENCH_CONNS           wrk connections [32]
#   BENCH_BIG             size of the big page in bytes, 0 skips [1048576]
#   BENCH_LOADER          1 runs bench/loader.sh (the loader figures) [1]
#   BENCH_LOADER_N        profiles loaded by bench/loader.sh [10000000]
#   BENCH_MDB_TIMEOUT     seconds for its stock mdb_load run [120]
#   BENCH_SCENARIOS       comma separated subset of 1..9 [all]
#   BENCH_REBUILD         1 rebuilds the stores (kept in BUILD/bench/store-N
#                         between runs while N and the generator stay)
#
# Writes build/bench/results.json and build/bench/results.md and prints the
# table.  Every nginx it starts is stopped at exit, also on Ctrl-C.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $TOP = abs_path(dirname(__FILE__) . '/..');
my $BUILD = $ENV{BUILD} || 'build';
$BUILD = "$TOP/$BUILD" unless $BUILD =~ m{^/};
my $OUT = "$BUILD/bench";
my $BENCH = "$TOP/bench";
my $NGINX = $ENV{NGINX_BIN} || '/usr/sbin/nginx';
my $MODULE = "$BUILD/ngx_http_personalize_module.so";
my $LUAMOD = '/usr/lib/nginx/modules';

my $N = env('BENCH_PROFILES', 1000000);
my $NSMALL = env('BENCH_SMALL', 10000);
my $NLARGE = env('BENCH_LARGE', 10000000);
my $ROUNDS = env('BENCH_ROUNDS', 7);
my $SECONDS = env('BENCH_SECONDS', 4);
my $CONNS = env('BENCH_CONNS', 32);
my $BIG = env('BENCH_BIG', 1048576);
my $LOADER = env('BENCH_LOADER', 1);
my $LOADER_N = env('BENCH_LOADER_N', 10000000);
my $MDB_TIMEOUT = env('BENCH_MDB_TIMEOUT', 120);
my %ONLY = map { $_ => 1 } split /,/, ($ENV{BENCH_SCENARIOS} || '');

my $started = time;
my %RUNNING;            # name -> master pid

sub env { defined $ENV{$_[0]} && $ENV{$_[0]} ne '' ? $ENV{$_[0]} : $_[1] }

sub say { print @_, "\n"; }
sub note { printf STDERR "bench [%4ds] %s\n", time - $started, "@_"; }

$SIG{INT} = $SIG{TERM} = sub { note('interrupted'); stop_all(); exit 130; };
END { stop_all(); }

system('which wrk >/dev/null 2>&1') == 0 or die "bench: wrk is missing\n";

make_path("$OUT/run", "$OUT/html");

my $have_lua = -e "$LUAMOD/ngx_http_lua_module.so"
               && -e "$LUAMOD/ndk_http_module.so";
my $ncpu = `nproc` + 0 || 1;


# --- pages, blocks, rules ---------------------------------------------------

system("perl $BENCH/mkpage.pl > $OUT/html/page.html") == 0 or die;
system("perl $BENCH/mkpage.pl --ssi > $OUT/html/page-ssi.html") == 0 or die;
system("perl $BENCH/mkpage.pl --size $BIG > $OUT/html/big.html") == 0
    or die if $BIG;

my $page = slurp("$OUT/html/page.html");

# the literal content of the peers: what scenario 4 renders for "Anna"
my %lit = (
    promo => '<div class="promo" id="promo">Hi Anna, you have 1234 loyalty '
        . 'points &middot; free delivery for members</div>',
    hero => trim(slurp("$BENCH/blocks/hero.html")) =~ s/\{\{first_name\}\}/Anna/r,
    crosssell => '<ul class="grid" id="crosssell">' . join('', map {
        qq{<li><a href="/p/$_"><img src="/img/p$_.jpg" alt=""><br>Product $_}
        . qq{</a><div class="price">&euro; @{[10 + $_]}.95</div></li>} } 8, 21, 34, 47)
        . '</ul>',
);

make_path("$OUT/slot");
for my $s (keys %lit) {
    spew("$OUT/slot/$s", $lit{$s});
}

my %def;
for my $s (qw(promo hero crosssell)) {
    $page =~ m{(<!-- personalize:$s -->.*?<!-- /personalize:$s -->)}s
        or die "bench: page has no slot $s";
    $def{$s} = $1;
}

spew("$OUT/rules.conf",
     slurp("$BENCH/rules.conf") =~ s/\@BENCH\@/$BENCH/gr);


# --- stores -------------------------------------------------------------------

my %loadtime;

sub store {
    my ($n) = @_;

    my $dir = "$OUT/store-$n";
    my $stamp = "$dir.stamp";
    my $want = join ' ', $n, (stat "$BENCH/mkprofiles.pl")[9],
        slurp("$BENCH/schema.json") =~ tr/ \n//dr;

    if (-d $dir && -e $stamp && slurp($stamp) eq $want
        && !$ENV{BENCH_REBUILD})
    {
        note("store of $n profiles: reused $dir");
        return $dir;
    }

    note("store of $n profiles: generating and loading");
    remove_tree($dir);
    unlink $stamp;

    my $t0 = time;
    system("perl $BENCH/mkprofiles.pl --catalog > $OUT/catalog.jsonl") == 0
        or die;
    my $cmd = "perl $BENCH/mkprofiles.pl $n | $BUILD/bin/pz-load -d $dir "
        . "-s $BENCH/schema.json -";
    system($cmd) == 0 or die "bench: $cmd failed\n";
    system("$BUILD/bin/pz-load -d $dir -c $OUT/catalog.jsonl") == 0
        or die "bench: catalog load failed\n";
    $loadtime{$n} = time - $t0;
    note(sprintf 'store of %d profiles: %.1f s (generate + load)', $n,
         $loadtime{$n});

    spew($stamp, $want);
    return $dir;
}

# A store in production is read all day: its pages are in the page cache
# and mapped by the workers, which map it when they open it
# (personalize_store populate=on).  Where the kernel can, they read it in
# 2 MB pages, unless the file is cached in small pages already: drop those
# (as pz-load -R does for a new generation; dd's "nocache" with count=0
# drops the whole file), then wait_mapped() once nginx runs.
sub cold_store {
    my ($dir) = @_;
    system("dd if=$dir/data.mdb iflag=nocache count=0 2>/dev/null") == 0
        or note("dd could not drop $dir from the page cache");
}

# waits until the worker of an instance has mapped the store (its file
# pages reach the store's size), so that no round measures the start
sub wait_mapped {
    my ($name, $dir) = @_;
    my $size = -s "$dir/data.mdb" or return;
    my $t0 = time;
    my ($kb, $pmd) = (0, 0);
    while (time - $t0 < 300) {
        my $w = worker_of($RUNNING{$name}) or last;
        $kb = rss_kb($w)->{RssFile} || 0;
        last if $kb * 1024 >= $size * 0.95;
        sleep 0.2;
    }
    my $w = worker_of($RUNNING{$name});
    if ($w && open my $fh, '<', "/proc/$w/smaps_rollup") {
        while (<$fh>) { $pmd = $1 if /^FilePmdMapped:\s+(\d+)/; }
    }
    note(sprintf '%s: worker mapped %.0f MB of the store in %.1f s, '
         . '%.0f MB of it in 2 MB pages', $name, $kb / 1024, time - $t0,
         $pmd / 1024);
}


# --- nginx instances ----------------------------------------------------------

my $port = 0;

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', ReuseAddr => 1, Listen => 1)
        or die "bind() failed: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

# starts one nginx; $main goes into the main context, $http into http{},
# $loc into "location /"; returns the port
sub start {
    my ($name, %c) = @_;

    my $dir = "$OUT/run/$name";
    remove_tree($dir);
    make_path("$dir/tmp", "$dir/logs");
    my $p = free_port();
    my $user = $> == 0 ? 'user root;' : '';
    my $main = $c{main} || '';
    my $http = $c{http} || '';
    my $loc = $c{loc} || '';
    my $extra = $c{server} || '';

    my $conf = <<"END";
$main
$user
worker_processes 1;
worker_cpu_affinity 01;
daemon on;
master_process on;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
worker_rlimit_nofile 4096;
events { worker_connections 1024; accept_mutex off; }
http {
    client_body_temp_path $dir/tmp/body; proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi; uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    open_file_cache max=100;
    etag off;
$http
    server {
        listen 127.0.0.1:$p backlog=4096;
        root $OUT/html;
        location = / {
            try_files /page.html =404;
$loc
        }
        location = /big {
            try_files /big.html =404;
$loc
        }
$extra
    }
}
END
    spew("$dir/nginx.conf", $conf);

    my $out = `$NGINX -p $dir/ -c $dir/nginx.conf 2>&1`;
    die "bench: nginx $name failed to start:\n$out" if $?;

    for (1 .. 100) {
        last if -s "$dir/nginx.pid";
        sleep 0.05;
    }
    chomp(my $pid = slurp("$dir/nginx.pid"));
    $RUNNING{$name} = $pid;

    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $p, Proto => 'tcp');
        if ($s) { close $s; last; }
        sleep 0.05;
    }

    return $p;
}

sub stop_all {
    for my $name (keys %RUNNING) {
        my $pid = delete $RUNNING{$name} or next;
        kill 'QUIT', $pid;
        for (1 .. 100) {
            last unless kill 0, $pid;
            sleep 0.05;
        }
        kill 'KILL', $pid if kill 0, $pid;
    }
}

sub worker_of {
    my ($master) = @_;
    for my $p (glob '/proc/[0-9]*') {
        open my $fh, '<', "$p/stat" or next;
        my $st = <$fh>;
        close $fh;
        return $1 if $st =~ /^(\d+) .*?\)\s+\S+\s+(\d+)/ && $2 == $master;
    }
    return undef;
}

sub rss_kb {
    my ($pid) = @_;
    my %r;
    open my $fh, '<', "/proc/$pid/status" or return {};
    while (<$fh>) {
        $r{$1} = $2 if /^(VmRSS|RssAnon|RssFile|RssShmem):\s+(\d+)/;
    }
    return \%r;
}


# module configuration for a store
sub pz_http {
    my ($store) = @_;
    return <<"END";
    personalize_store $store;
    personalize_identity cookie \$cookie_pzid;
    personalize on;
    include $OUT/rules.conf;
END
}

my $lua_http = <<'END';
    lua_shared_dict profiles @SHM@m;
    init_by_lua_block {
        local d = ngx.shared.profiles
        local names = { "Anna", "Daan", "Emma", "Mark", "Kees", "Lotte",
                        "Noah", "Sophie", "Jan", "Eva", "Sem", "Julia" }
        for k = 1, @N@ do
            local recs = {}
            for j = 0, 3 do recs[#recs + 1] = "p" .. (1 + (k * 7 + j * 13) % 50) end
            d:set("u" .. k, names[k % 12 + 1] .. "|" .. (1000 + k % 9000)
                  .. "|PTS-u" .. k .. "|" .. table.concat(recs, ","))
        end
        catalog = {}
        for i = 1, 50 do
            catalog["p" .. i] = { name = "Product " .. i, url = "/p/" .. i,
                                  image = "/img/p" .. i .. ".jpg",
                                  price = (10 + i) .. ".95" }
        end
        local esc = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
                      ['"'] = "&quot;", ["'"] = "&#39;" }
        function html(s) return (string.gsub(s, "[&<>\"']", esc)) end
    }
END

my $lua_loc = <<'END';
            header_filter_by_lua_block {
                ngx.header.content_length = nil
            }
            body_filter_by_lua_block {
                local ctx = ngx.ctx
                local buf = ctx.buf
                if not buf then buf = {}; ctx.buf = buf end
                buf[#buf + 1] = ngx.arg[1]
                if not ngx.arg[2] then ngx.arg[1] = nil; return end
                local body = table.concat(buf)
                local v = ngx.shared.profiles:get(ngx.var.cookie_pzid or "")
                if v then
                    local name, points, code, recs =
                        v:match("^([^|]*)|([^|]*)|([^|]*)|(.*)$")
                    name = html(name)
                    local promo = '<div class="promo" id="promo">Hi ' .. name
                        .. ', you have ' .. points
                        .. ' loyalty points &middot; free delivery for members</div>'
                    local hero = '<section class="hero vip" id="hero"><h1>Welcome back, '
                        .. name .. '</h1><p>As one of our VIP customers you get first '
                        .. 'access to the winter collection, free returns and a personal '
                        .. 'stylist.</p><a class="btn" href="/c/winter">Preview the '
                        .. 'collection</a></section>'
                    local items = {}
                    for id in recs:gmatch("[^,]+") do
                        local p = catalog[id]
                        if p then
                            items[#items + 1] = '<li><a href="' .. html(p.url)
                                .. '"><img src="' .. html(p.image) .. '" alt=""><br>'
                                .. html(p.name) .. '</a><div class="price">&euro; '
                                .. html(p.price) .. '</div></li>'
                        end
                    end
                    local cross = '<ul class="grid" id="crosssell">'
                        .. table.concat(items) .. '</ul>'
                    local prompt = '<aside class="pz-prompt" id="pz-prompt" role="dialog" '
                        .. 'data-pz-prompt="help"><strong>Can I help you?</strong> Not '
                        .. 'finding what you are looking for? Our staff answer in a '
                        .. 'minute.</aside>'
                    local fill = { promo = promo, hero = hero, crosssell = cross }
                    body = ngx.re.gsub(body,
                        [[<!-- personalize:(\w+) -->.*?<!-- /personalize:\1 -->]],
                        function(m) return fill[m[1]] or m[0] end, "jos")
                    body = ngx.re.sub(body, [[(<input[^>]*name="coupon"[^>]*value=)""]],
                        function(m) return m[1] .. '"' .. html(code) .. '"' end, "jo")
                    body = ngx.re.sub(body, [[</body>]],
                        function(m) return prompt .. "</body>" end, "jo")
                end
                ngx.arg[1] = body
            }
END


# --- wrk ------------------------------------------------------------------------

sub usecs {
    my ($v, $u) = @_;
    return $v * ({ us => 1, ms => 1000, s => 1000000 }->{$u} // 1);
}

# one wrk run: { rps, p50_us, p99_us, errors }
sub wrk {
    my ($p, %o) = @_;

    my $secs = $o{seconds} || $SECONDS;
    local $ENV{BENCH_IDS} = $o{ids} || $N;
    local $ENV{BENCH_COOKIE} = $o{cookie} || 'pzid';
    local $ENV{BENCH_PATH} = $o{path} || '/';
    local $ENV{BENCH_COOKIES} = $o{cookies} || '';
    my $pin = $ncpu > 1 ? 'taskset -c 1 ' : '';

    my $cmd = "${pin}timeout " . ($secs + 30) . " wrk -t1 -c$CONNS -d${secs}s "
        . "--timeout 10s --latency -s $BENCH/visitor.lua http://127.0.0.1:$p 2>&1";
    my $out = `$cmd`;

    my %r = (errors => 0);
    $r{rps} = $1 if $out =~ /Requests\/sec:\s+([\d.]+)/;
    $r{p50_us} = usecs($1, $2) if $out =~ /^\s+50%\s+([\d.]+)(us|ms|s)/m;
    $r{p99_us} = usecs($1, $2) if $out =~ /^\s+99%\s+([\d.]+)(us|ms|s)/m;
    $r{errors} += $1 if $out =~ /Non-2xx or 3xx responses:\s+(\d+)/;
    $r{errors} += $1 + $2 + $3 + $4
        if $out =~ /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/;

    die "bench: wrk failed:\n$cmd\n$out" unless defined $r{rps};
    note(sprintf '  %-28s %9.0f rps  p50 %6.0f us  p99 %6.0f us%s',
         $o{label} || $p, $r{rps}, $r{p50_us}, $r{p99_us},
         $r{errors} ? "  ERRORS $r{errors}" : '');

    return \%r;
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return 0 unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

sub get {
    my ($p, $path, $cookie) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $p,
                                  Proto => 'tcp', Timeout => 5)
        or return '';
    print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n"
        . ($cookie ? "Cookie: $cookie\r\n" : '') . "\r\n";
    local $/;
    my $r = <$s> // '';
    close $s;
    return $r;
}


# --- the scenarios -----------------------------------------------------------------

my @S = (
    { id => 1, name => 'bare nginx', inst => 'bare' },
    { id => 2, name => 'module loaded, off for the location', inst => 'off' },
    { id => 3, name => 'module on, anonymous visitor', inst => 'on',
      cookie => 'other' },
    { id => 4, name => "module on, full personalization ("
                     . count($N) . " profiles)", inst => 'on' },
    { id => 5, name => 'peer: sub_filter, 3 literal replacements',
      inst => 'sub' },
    { id => 6, name => 'peer: SSI, 3 subrequests', inst => 'ssi' },
    { id => 7, name => 'peer: Lua, lua_shared_dict + ngx.re.gsub',
      inst => 'lua' },
    # not a target: what a body filter costs before it does anything (a
    # filter that changes the body cannot use sendfile)
    { id => 8, name => 'reference: bare nginx, sendfile off',
      inst => 'nosendfile' },
    # not a target: scenario 4 with signed visitor cookies (HMAC-SHA256
    # verified on every request), as production and the demo use them
    { id => 9, name => 'module on, full personalization, signed cookies',
      inst => 'signed', cookies => "$OUT/signed.txt" },
);
@S = grep { !%ONLY || $ONLY{$_->{id}} } @S;
@S = grep { $_->{inst} ne 'lua' || $have_lua } @S;

my $store = (grep { $_->{inst} =~ /^(off|on|signed)$/ } @S) ? store($N) : undef;
cold_store($store) if $store;

sub size {
    my ($n) = @_;
    return $n >= 1048576 && $n % 1048576 == 0 ? ($n / 1048576) . ' MiB'
         : $n >= 1024 && $n % 1024 == 0 ? ($n / 1024) . ' KiB' : "$n bytes";
}

sub count {
    my ($n) = @_;
    return $n >= 1000000 && $n % 1000000 == 0 ? ($n / 1000000) . 'M'
         : $n >= 1000 && $n % 1000 == 0 ? ($n / 1000) . 'k' : $n;
}

my %inst = (
    bare => sub { start('bare') },
    nosendfile => sub { start('nosendfile', loc => '            sendfile off;') },
    off => sub {
        start('off', main => "load_module $MODULE;", http => pz_http($store),
              loc => '            personalize off;');
    },
    on => sub {
        start('on', main => "load_module $MODULE;", http => pz_http($store));
    },
    signed => sub {
        mint_signed();
        start('signed', main => "load_module $MODULE;",
              http => pz_http($store) =~ s/(\$cookie_pzid);/$1 signed;\n    personalize_key $OUT\/bench.key;/r);
    },
    sub => sub {
        my $loc = join '', map {
            "            sub_filter '" . sq($def{$_}) . "' '" . sq($lit{$_})
            . "';\n" } qw(promo hero crosssell);
        start('sub', loc => $loc . "            sub_filter_once on;\n");
    },
    ssi => sub {
        start('ssi', loc => "            ssi on;\n            sendfile off;\n",
              server => "        location = /ssi { ssi on; sendfile off; "
                  . "try_files /page-ssi.html =404; }\n"
                  . "        location /slot/ { alias $OUT/slot/; "
                  . "default_type text/html; }\n");
    },
    lua => sub {
        my $shm = int($N * 400 / 1048576) + 16;
        start('lua',
              main => "load_module $LUAMOD/ndk_http_module.so;\n"
                  . "load_module $LUAMOD/ngx_http_lua_module.so;",
              http => $lua_http =~ s/\@N\@/$N/gr =~ s/\@SHM\@/$shm/gr,
              loc => $lua_loc);
    },
);

sub sq { my ($s) = @_; $s =~ s/'/\\'/g; return $s; }

# 100000 signed ids of random profiles (pz-sign), for scenario 9
sub mint_signed {
    unless (-s "$OUT/bench.key") {
        system("od -An -N32 -tx1 /dev/urandom | tr -d ' \\n' > $OUT/bench.key")
            == 0 or die;
        chmod 0600, "$OUT/bench.key";
    }
    srand(7);
    my $m = $N < 100000 ? $N : 100000;
    spew("$OUT/ids.txt", join '', map { 'u' . (1 + int rand $N) . "\n" } 1 .. $m);
    system("xargs $BUILD/bin/pz-sign -k $OUT/bench.key -t 30d "
           . "< $OUT/ids.txt > $OUT/signed.txt") == 0
        or die "bench: pz-sign failed\n";
}

my %port;
for my $s (@S) {
    $port{$s->{inst}} //= $inst{$s->{inst}}->();
}
for my $name (grep { /^(off|on|signed)$/ } keys %port) {
    wait_mapped($name, $store);
}

# the SSI peer serves the SSI page at /ssi
$_->{path} = '/ssi' for grep { $_->{inst} eq 'ssi' } @S;

# check that every scenario serves what it claims before measuring it
my %check = (
    1 => sub { $_[0] =~ /personalize:hero/ },
    2 => sub { $_[0] =~ /personalize:hero/ },
    3 => sub { $_[0] =~ /Winter collection is here/ && $_[0] !~ /Welcome back/ },
    4 => sub { $_[0] =~ /Welcome back, \w+/ && $_[0] =~ /pz-prompt/
               && $_[0] =~ /value="PTS-u7"/ && $_[0] =~ /Product \d+/
               && $_[0] !~ /personalize:/ },
    5 => sub { $_[0] =~ /Welcome back, Anna/ && $_[0] !~ /personalize:/ },
    6 => sub { $_[0] =~ /Welcome back, Anna/ && $_[0] !~ /<!--#/ },
    7 => sub { $_[0] =~ /Welcome back, \w+/ && $_[0] =~ /pz-prompt/
               && $_[0] =~ /value="PTS-u7"/ },
    8 => sub { $_[0] =~ /personalize:hero/ },
    9 => sub { $_[0] =~ /Welcome back, \w+/ && $_[0] =~ /pz-prompt/ },
);

for my $s (@S) {
    my $value = 'u7';
    ($value = slurp($s->{cookies})) =~ s/\n.*//s if $s->{cookies};
    my $r = get($port{$s->{inst}}, $s->{path} || '/',
                ($s->{cookie} || 'pzid') . "=$value");
    my ($body) = $r =~ /\r\n\r\n(.*)$/s;
    $body //= '';
    $s->{bytes} = length $body;
    unless ($r =~ m{^HTTP/1\.\d 200} && $check{$s->{id}}->($body)) {
        spew("$OUT/check-$s->{id}.html", $r);
        note("scenario $s->{id} ($s->{name}) does not serve what it should: "
             . "see $OUT/check-$s->{id}.html");
        $s->{broken} = 1;
    }
}

note(sprintf 'page %d bytes; %d rounds of %ds, %d connections, 1 worker',
     length $page, $ROUNDS, $SECONDS, $CONNS);

# warm up every instance (page cache, LMDB pages, Lua dict)
for my $s (@S) {
    wrk($port{$s->{inst}}, seconds => 2, cookie => $s->{cookie},
        path => $s->{path}, cookies => $s->{cookies},
        label => "warm-up $s->{id}");
}

for my $round (1 .. $ROUNDS) {
    note("round $round of $ROUNDS");
    for my $s ($round % 2 ? @S : reverse @S) {
        push @{$s->{runs}}, wrk($port{$s->{inst}}, cookie => $s->{cookie},
                                path => $s->{path}, cookies => $s->{cookies},
                                label => "$s->{id} $s->{inst}");
    }
}

my ($bare) = grep { $_->{id} == 1 } @S;

for my $s (@S) {
    $s->{rps} = median(map { $_->{rps} } @{$s->{runs}});
    $s->{p50_us} = median(map { $_->{p50_us} } @{$s->{runs}});
    $s->{p99_us} = median(map { $_->{p99_us} } @{$s->{runs}});
    $s->{errors} = 0;
    $s->{errors} += $_->{errors} for @{$s->{runs}};
}
for my $s (@S) {
    $s->{ratio_to_bare} = $bare && $bare->{rps}
                        ? $s->{rps} / $bare->{rps} : undef;
}


# --- store size: 10 thousand vs 10 million profiles ------------------------------------

my @size;
for my $n (grep { $_ } $NSMALL, $NLARGE) {
    my $st = store($n);
    cold_store($st);
    my $name = "on-$n";
    $port{$name} = start($name, main => "load_module $MODULE;",
                         http => pz_http($st));
    wait_mapped($name, $st);
    push @size, { n => $n, inst => $name,
                  name => "module on, full personalization (" . count($n)
                        . " profiles)" };
}

if (@size) {
    for my $s (@size) {
        wrk($port{$s->{inst}}, seconds => 4, ids => $s->{n},
            label => "warm-up $s->{inst}");
    }
    for my $round (1 .. $ROUNDS) {
        note("store size round $round of $ROUNDS");
        for my $s ($round % 2 ? @size : reverse @size) {
            push @{$s->{runs}}, wrk($port{$s->{inst}}, ids => $s->{n},
                                    label => $s->{inst});
        }
    }
    for my $s (@size) {
        $s->{rps} = median(map { $_->{rps} } @{$s->{runs}});
        $s->{p50_us} = median(map { $_->{p50_us} } @{$s->{runs}});
        $s->{p99_us} = median(map { $_->{p99_us} } @{$s->{runs}});
        $s->{ratio_to_bare} = $bare ? $s->{rps} / $bare->{rps} : undef;
        my $w = worker_of($RUNNING{$s->{inst}});
        $s->{rss} = $w ? rss_kb($w) : {};
        $s->{store_bytes} = -s "$OUT/store-$s->{n}/data.mdb"
            || (`du -sb $OUT/store-$s->{n}` =~ /^(\d+)/)[0];
    }
}


# --- a 1 MB page -------------------------------------------------------------------------------

my @big;
if ($BIG) {
    for my $s (grep { $_->{id} == 1 || $_->{id} == 4 } @S) {
        push @big, { id => $s->{id}, inst => $s->{inst},
                     name => "$s->{name}, " . size($BIG) . ' page' };
    }
    for my $round (1 .. ($ROUNDS > 3 ? 3 : $ROUNDS)) {
        note("big page round $round");
        for my $s (@big) {
            push @{$s->{runs}}, wrk($port{$s->{inst}}, path => '/big',
                                    label => "big $s->{inst}");
        }
    }
    for my $s (@big) {
        $s->{rps} = median(map { $_->{rps} } @{$s->{runs}});
        $s->{p50_us} = median(map { $_->{p50_us} } @{$s->{runs}});
        $s->{p99_us} = median(map { $_->{p99_us} } @{$s->{runs}});
    }
    $_->{ratio_to_bare} = $big[0]{rps} ? $_->{rps} / $big[0]{rps} : undef
        for @big;
}

stop_all();


# --- loader figures (h2's bench/loader.sh) -------------------------------------------

my $loader = '';
if ($LOADER && -e "$BENCH/loader.sh") {
    note("loader: bench/loader.sh with $LOADER_N profiles");
    my $cmd = "N=$LOADER_N MDB_LOAD_TIMEOUT=$MDB_TIMEOUT BUILD=$BUILD "
        . "timeout 1200 sh $BENCH/loader.sh 2>&1";
    $loader = `$cmd`;
    $loader .= "\n(bench/loader.sh exited with " . ($? >> 8) . ")\n" if $?;
}


# --- report ----------------------------------------------------------------------------------

sub row {
    my ($s) = @_;
    return sprintf "| %s | %s | %.0f | %.0f | %.0f | %s |", $s->{id} // '',
        $s->{name} . ($s->{broken} ? ' (BROKEN: see check file)' : '')
            . ($s->{errors} ? " ($s->{errors} errors)" : ''),
        $s->{rps}, $s->{p50_us}, $s->{p99_us},
        defined $s->{ratio_to_bare} ? sprintf('%.2f', $s->{ratio_to_bare})
                                    : '-';
}

my $head = "| # | scenario | rps | p50 µs | p99 µs | ratio to bare |\n"
         . "|---|---|---:|---:|---:|---:|\n";

my $md = '';
my $cpu = (`grep -m1 'model name' /proc/cpuinfo` =~ /:\s*(.*)/)[0] // '?';
my $mem = (`grep MemTotal /proc/meminfo` =~ /(\d+)/)[0] // 0;
chomp(my $kernel = `uname -r`);
chomp(my $ngv = `$NGINX -v 2>&1`);
chomp(my $wrkv = (`wrk -v 2>&1` =~ /^(wrk \S+)/)[0] // 'wrk');

$md .= sprintf "Machine: %s, %d cores, %.0f GiB, Linux %s; %s; %s.\n",
    $cpu, $ncpu, $mem / 1048576, $kernel, $ngv, $wrkv;
$md .= sprintf "Page %d bytes; one nginx worker (CPU 0), wrk -t1 -c%d "
    . "(CPU 1), %d alternating rounds of %d s, medians.\n\n",
    length $page, $CONNS, $ROUNDS, $SECONDS;
$md .= $head . join("\n", map { row($_) } @S) . "\n";

my %by = map { $_->{id} => $_ } @S;
if ($by{4}) {
    $md .= "\nTargets: scenario 4 / 1 = "
        . ($by{1} ? sprintf('%.2f (target >= 0.80)', $by{4}{rps} / $by{1}{rps}) : '-')
        . "; 4 / 5 = "
        . ($by{5} ? sprintf('%.2f (target >= 1.5)', $by{4}{rps} / $by{5}{rps}) : '-')
        . "; 4 / 7 = "
        . ($by{7} ? sprintf('%.2f (target >= 3)', $by{4}{rps} / $by{7}{rps}) : '-')
        . ".\n";
}

if (@size) {
    $md .= "\nStore size (scenario 4):\n\n" . $head
        . join("\n", map { row($_) } @size) . "\n";
    if (@size == 2) {
        $md .= sprintf "\n%s profiles vs %s: %.3f of the throughput "
            . "(target: within 5%%).\n", count($size[1]{n}),
            count($size[0]{n}), $size[1]{rps} / $size[0]{rps};
    }
    for my $s (@size) {
        $md .= sprintf "Worker RSS with %s profiles (store %.0f MB on disk): "
            . "%.1f MB (anonymous %.1f MB, file-backed %.1f MB, shared %.1f MB).\n",
            count($s->{n}), ($s->{store_bytes} || 0) / 1e6,
            ($s->{rss}{VmRSS} || 0) / 1024, ($s->{rss}{RssAnon} || 0) / 1024,
            ($s->{rss}{RssFile} || 0) / 1024, ($s->{rss}{RssShmem} || 0) / 1024;
    }
}

if (@big) {
    $md .= "\nA " . size($BIG) . " page:\n\n" . $head
        . join("\n", map { row($_) } @big) . "\n";
}

if (%loadtime) {
    $md .= "\nStores built for this run (mkprofiles.pl | pz-load, incl. "
        . "generating the JSON): "
        . join(', ', map { sprintf '%s profiles %.1f s', count($_),
                           $loadtime{$_} } sort { $a <=> $b } keys %loadtime)
        . ".\n";
}

# the scanner alone on the same page, in CPU time (make builds it)
if (-x "$OUT/scan-bench") {
    my $sb = `$OUT/scan-bench $OUT/html/page.html 20000`;
    $md .= "\nThe scanner alone (bench/scan-bench.c, CPU time per page):\n\n"
        . "```\n$sb```\n" if $? == 0;
}

if ($loader ne '') {
    $md .= "\nLoader (bench/loader.sh, " . count($LOADER_N)
        . " profiles):\n\n```\n$loader```\n";
}

print "\n$md";
spew("$OUT/results.md", $md);

my $json = JSON::PP->new->canonical->pretty;
my @rows = map {
    my $s = $_;
    +{ map { $_ => $s->{$_} } qw(id name rps p50_us p99_us ratio_to_bare
                                 errors bytes) }
} @S;
push @rows, map {
    my $s = $_;
    +{ (map { $_ => $s->{$_} } qw(name rps p50_us p99_us ratio_to_bare)),
       id => '4', profiles => $s->{n}, worker_rss_kb => $s->{rss}{VmRSS} }
} @size;
push @rows, map {
    my $s = $_;
    +{ (map { $_ => $s->{$_} } qw(id name rps p50_us p99_us ratio_to_bare)),
       page_bytes => $BIG }
} @big;
spew("$OUT/results.json", $json->encode(\@rows));
note("wrote $OUT/results.json and $OUT/results.md");

exit 0;


sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or die "open($f) failed: $!";
    local $/;
    my $c = <$fh>;
    return $c // '';
}

sub spew {
    my ($f, $c) = @_;
    open my $fh, '>', $f or die "open($f) failed: $!";
    print $fh $c;
    close $fh;
}

sub trim { my ($s) = @_; $s =~ s/^\s+|\s+$//g; return $s; }
