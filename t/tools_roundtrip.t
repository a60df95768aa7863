#!/usr/bin/perl

# load -> dump -> load gives an identical store: pz-dump writes the JSON
# lines that pz-load reads (and -S the schema it takes), the second store's
# profiles, aliases and catalog are byte for byte the first's.  The stock
# mdb_stat and mdb_dump (Debian lmdb-utils) read our store.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use PzTest;

my $t = PzTest->new();

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my $json = JSON::PP->new->canonical;
my $dir = $t->dir;

my %schema = (
    segments => 'list', favourites => 'list', first_name => 'string',
    clv => 'decimal', orders => 'int', cart_abandoned_at => 'time',
    note => 'string',
);

my @rows = (
    { id => 'c1', aliases => ['login:42', 'email:9f'], first_name => 'Anna',
      segments => ['vip', 'cart_abandoned'], clv => '1234.50',
      cart_abandoned_at => '2026-11-22T10:00:00Z', favourites => ['p1', 'p2'],
      orders => 17 },
    { id => 'c2', first_name => "Zo\x{eb} \x{2603}", clv => -0.5,
      orders => -3, segments => [], note => "tab\tquote\" nl\n" },
    { id => "c3 \x{fc}", aliases => ['cookie:x'], clv => '922337203685477.5807',
      cart_abandoned_at => 0, favourites => [''] },
    map { { id => sprintf('n%04d', $_), aliases => ["a$_"],
            orders => $_, segments => [ ('s') x ($_ % 5) ] } } 1 .. 300,
);

my $store = $t->load_store(\@rows, schema => \%schema, dir => 'one',
    catalog => [ { id => 'p1', name => 'Mug', price => '9.95',
                   url => '/p/1', image => '/i/1.jpg' },
                 { id => 'p2', name => 'Cup', price => 3 } ]);

my ($st, $out) = $t->run_tool('pz-dump', '-d', $store, '-o', "$dir/p.jsonl");
is($st, 0, 'pz-dump of the profiles') or diag $out;
($st, $out) = $t->run_tool('pz-dump', '-d', $store, '-c', '-o', "$dir/c.jsonl");
is($st, 0, 'pz-dump of the catalog') or diag $out;
($st, $out) = $t->run_tool('pz-dump', '-d', $store, '-S', '-o', "$dir/s.json");
is($st, 0, 'pz-dump -S of the schema') or diag $out;
is_deeply($json->decode($t->read_file('s.json')), \%schema,
          'the dumped schema is the loaded one');

my @dumped = map { $json->decode($_) } split /\n/, $t->read_file('p.jsonl');
is(scalar @dumped, scalar @rows, 'one line per profile');

my ($c1) = grep { $_->{id} eq 'c1' } @dumped;
is_deeply([ @$c1{qw(first_name segments favourites orders)} ],
          [ @{$rows[0]}{qw(first_name segments favourites orders)} ],
          'a dumped profile holds what was loaded');

# the second store from the dump

my $two = "$dir/two";
($st, $out) = $t->run_tool('pz-load', '-q', '-d', $two, '-s', "$dir/s.json",
                           "$dir/p.jsonl");
is($st, 0, 'pz-load of the dump') or diag $out;
($st, $out) = $t->run_tool('pz-load', '-q', '-c', '-d', $two, "$dir/c.jsonl");
is($st, 0, 'pz-load of the catalog dump') or diag $out;

sub stock_dump {
    my ($env, $db) = @_;
    my $out = `mdb_dump -s $db '$env' 2>&1`;
    return $? == 0 ? $out : "mdb_dump failed: $out";
}

for my $db (qw(profiles aliases catalog)) {
    my $a = stock_dump($store, $db);
    ok(length $a > 100, "mdb_dump -s $db reads our store");
    is(stock_dump($two, $db), $a, "$db: the round trip is byte for byte");
}

($st, $out) = $t->run_tool('pz-dump', '-d', $two, '-o', "$dir/p2.jsonl");
is($t->read_file('p2.jsonl'), $t->read_file('p.jsonl'),
   'and dumps to the same lines');

# a replace from the dump is the same store too

($st, $out) = $t->run_tool('pz-load', '-q', '-R', '-G', '0', '-d',
    "$dir/three", '-s', "$dir/s.json", "$dir/p.jsonl");
is($st, 0, 'a replace from the dump') or diag $out;
is(stock_dump("$dir/three", 'profiles'), stock_dump($store, 'profiles'),
   'gives the same profiles');
is(stock_dump("$dir/three", 'aliases'), stock_dump($store, 'aliases'),
   'and the same aliases');

# the stock tools

$out = `mdb_stat -a '$store' 2>&1`;
is($?, 0, 'mdb_stat -a reads our store');

my %entries = $out =~ /^Status of (\w+)\n(?:  .*\n)*?  Entries: (\d+)/mg;
my $aliases = 0;
$aliases += @{ $_->{aliases} || [] } for @rows;
is($entries{profiles}, scalar @rows, 'mdb_stat counts the profiles');
is($entries{aliases}, $aliases, 'and the aliases');
is($entries{catalog}, 2, 'and the catalog items');
is($entries{meta}, 1, 'and one meta record');

$out = `mdb_dump -a '$store' 2>&1`;
is($?, 0, 'mdb_dump -a reads our store');
my @dbs = $out =~ /^database=(\w+)$/mg;
is_deeply([sort @dbs], [qw(aliases catalog meta profiles)],
          'it finds the four named databases');

done_testing();
