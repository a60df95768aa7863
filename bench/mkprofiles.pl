#!/usr/bin/perl
# Writes N benchmark profiles (u1 .. uN) as JSON lines for pz-load, sorted
# by id bytewise, each matching the benchmark rules: three slots, a prompt
# and a prefill.  Also writes the catalog with --catalog.
#
#   perl mkprofiles.pl N > profiles.jsonl
#   perl mkprofiles.pl --catalog > catalog.jsonl

use strict;
use warnings;

if (@ARGV && $ARGV[0] eq '--catalog') {
    for my $i (1 .. 50) {
        printf qq({"id":"p%d","name":"Product %d","url":"/p/%d","image":"/img/p%d.jpg","price":"%d.95"}\n),
            $i, $i, $i, $i, 10 + $i;
    }
    exit 0;
}

my $n = shift // 1000000;
my @names = qw(Anna Daan Emma Mark Kees Lotte Noah Sophie Jan Eva Sem Julia);
my @seg = qw(vip loyalty newsletter winter outdoor);

# bytewise order of "u1" .. "uN": walk the decimal prefixes depth first
my $walk;
$walk = sub {
    my ($p) = @_;
    return if $p > $n;
    print line("u$p", $p);
    $walk->($p * 10 + $_) for 0 .. 9;
};
$walk->($_) for 1 .. 9;

sub line {
    my ($id, $k) = @_;
    my $r = join ',', map { '"p' . (1 + ($k * 7 + $_ * 13) % 50) . '"' } 0 .. 3;
    return sprintf qq({"id":"%s","aliases":["login:%d","mail:%08x"],"segments":["%s","%s","%s"],)
        . qq("first_name":"%s","clv":"%d.50","loyalty_points":%d,"discount_code":"PTS-%s",)
        . qq("last_purchase_at":"2026-10-%02dT10:00:00Z","recommended":[%s]}\n),
        $id, $k, $k * 2654435761 % 4294967296, 'vip', $seg[1 + $k % 4], 'member',
        $names[$k % @names], 500 + $k % 5000, 1000 + $k % 9000, $id,
        1 + $k % 28, $r;
}
