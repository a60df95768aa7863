#!/usr/bin/perl

# populate=on (the default): every worker maps the used pages of the store
# up front, a slice per timer tick, after each open and reopen, so a
# lookup never pays the first touch of a page; requests are served
# meanwhile.  populate=off leaves the pages to the lookups.  A bad value is
# an nginx -t error with file:line.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep);

use lib 't/lib';
use PzTest;

my $t = PzTest->new(workers => 1);

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');
plan skip_all => 'Linux only' unless $^O eq 'linux';

# about 40 MB of profiles: more than two slices of 16 MB

my $pad = 'x' x 900;
my @lines = map { { id => "c$_", name => "N$_", note => "$pad$_" } }
    1 .. 40000;
my $schema = { name => 'string', note => 'string' };

my $store = $t->load_store(\@lines, schema => $schema, replace => 1);
my $size = -s "$store/data.mdb";

ok($size > 32 << 20, sprintf 'the store has %.0f MB', $size / 1048576);

# pz-load -R leaves the new generation out of the page cache, so that the
# workers read it back in 2 MB pages where the kernel can

SKIP: {
    my $fc = `fincore --bytes --noheadings --output RES $store/data.mdb 2>/dev/null`;
    skip 'no fincore (util-linux)', 1 if $? != 0 || $fc !~ /^\s*(\d+)/;
    cmp_ok($1, '<', $size / 10,
           "pz-load -R dropped the new generation's cached pages ($1 bytes left)");
}

sub conf {
    my ($param) = @_;
    return <<"EOF";
http {
    personalize_store %%DIR%%/store check=1s $param;
    personalize_identity login \$http_x_login;

    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            return 200 "[\$personalize_profile|\$personalize_field_name]";
        }
    }
}
EOF
}

sub rss_file_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (<$fh>) {
        return $1 if /^RssFile:\s+(\d+)/;
    }
    return 0;
}

sub slurp {
    my ($f) = @_;
    open my $fh, '<', $f or return '';
    local $/;
    return <$fh>;
}

sub wait_log {
    my ($re, $count) = @_;
    for (1 .. 200) {
        my $n = () = $t->error_log =~ /$re/g;
        return $n if $n >= $count;
        sleep 0.05;
    }
    return 0;
}

my $mapped = qr/\[info\].*personalize store ".*store": (\d+) MB mapped in \d+ ms/;

# --- populate on (the default) -----------------------------------------------

$t->run(conf(''));

my $r = $t->get('/', 'X-Login' => 'c7');
is($r->{body}, '[1|N7]', 'a lookup is served while the pages are mapped');

ok(wait_log($mapped, 1), 'the worker logs that the store is mapped');

my ($mb) = $t->error_log =~ $mapped;
ok(defined $mb && $mb >= int($size / 1048576) - 1,
   'the whole used part of the store is mapped (' . ($mb // '?') . ' MB)');

my ($w) = $t->workers;
my $rss = rss_file_kb($w);
ok($rss * 1024 >= $size * 0.9,
   sprintf 'the worker maps the store: %.0f MB of file pages',
   $rss / 1024);

# the map asks for 2 MB pages (MADV_HUGEPAGE: "hg" in VmFlags) where the
# kernel has transparent huge pages

SKIP: {
    my $thp = '/sys/kernel/mm/transparent_hugepage/enabled';
    skip 'no transparent huge pages', 1
        unless -r $thp && slurp($thp) !~ /\[never\]/;

    my $flags = '';
    if (open my $fh, '<', "/proc/$w/smaps") {
        my $in = 0;
        while (<$fh>) {
            $in = m{/data\.mdb$} if /^[0-9a-f]+-[0-9a-f]+ /;
            $flags = $1 if $in && /^VmFlags:\s*(.*)/;
        }
    }
    like($flags, qr/\bhg\b/, "the store's map asks for huge pages ($flags)");
}

# a replaced store is mapped again

$t->load_store([@lines[0 .. 999], { id => 'new', name => 'Neu' }],
               schema => $schema, replace => 1, args => ['-q', '-G', '0']);

my $seen = 0;
for (1 .. 100) {
    $r = $t->get('/', 'X-Login' => 'new');
    if ($r->{body} eq '[1|Neu]') {
        $seen = 1;
        last;
    }
    sleep 0.05;
}

ok($seen, 'the replaced store is used');
ok(wait_log($mapped, 2), 'the replaced store is mapped too');

$t->stop;

# --- populate off --------------------------------------------------------------

$t = PzTest->new(workers => 1);
$store = $t->load_store(\@lines, schema => $schema, replace => 1);

$t->run(conf('populate=off'));

$r = $t->get('/', 'X-Login' => 'c9');
is($r->{body}, '[1|N9]', 'populate=off: lookups work');

sleep 1.5;

($w) = $t->workers;
$rss = rss_file_kb($w);
ok($rss * 1024 < $size / 2,
   sprintf 'populate=off: only touched pages are mapped (%.0f MB)',
   $rss / 1024);
unlike($t->error_log, $mapped, 'populate=off: nothing is mapped up front');

$t->stop;

# --- a bad value ---------------------------------------------------------------

my ($ok, $out) = $t->nginx_t(conf('populate=maybe'));
ok(!$ok, 'populate=maybe fails nginx -t');
like($out, qr/invalid parameter "populate=maybe" in personalize_store in \S+:\d+/,
     'the error names the parameter, file and line');

done_testing;
