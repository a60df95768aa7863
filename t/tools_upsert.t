#!/usr/bin/perl

# pz-load upsert into the live store: profiles and aliases go in, a second
# load replaces a profile whole, aliases follow their profile (dropped ones
# go, one claimed by another profile moves), every commit bumps the
# generation, and -b splits a load into batches that each commit alone.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use PzTest;

my $t = PzTest->new();

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my $json = JSON::PP->new->canonical;
my $store = $t->dir . '/store';
my $schema = $t->write_file('schema.json', $json->encode({
    segments => 'list', first_name => 'string', clv => 'decimal',
    orders => 'int', cart_abandoned_at => 'time',
}));

sub load {
    my ($name, @rows) = @_;
    my $file = $t->write_file($name,
        join('', map { (ref $_ ? $json->encode($_) : $_) . "\n" } @rows));
    return $t->run_tool('pz-load', '-q', '-d', $store, '-s', $schema, $file);
}

sub get {
    my ($id) = @_;
    my ($st, $out) = $t->run_tool('pz-get', '-d', $store, $id);
    return $st == 0 ? $json->decode($out) : undef;
}

sub generation {
    my ($st, $out) = $t->run_tool('pz-stat', '-d', $store);
    return $out =~ /^generation: (\d+)$/m ? $1 : -1;
}

my @first = (
    { id => 'c1', aliases => ['login:1', 'email:a'], first_name => 'Anna',
      segments => ['vip', 'cart_abandoned'], clv => '1234.50', orders => 3,
      cart_abandoned_at => '2026-11-22T10:00:00Z' },
    { id => 'c2', aliases => ['login:2'], first_name => 'Bob', clv => 12 },
);

my ($st, $out) = load('a.jsonl', @first);
is($st, 0, 'first load succeeds') or diag $out;
ok(-d $store && -f "$store/data.mdb", 'a missing store is created');

my $c1 = get('c1');
is($c1->{first_name}, $first[0]{first_name}, 'string field');
is_deeply($c1->{segments}, $first[0]{segments}, 'list field');
is($c1->{clv}, '1234.5', 'decimal field, shortest form');
is($c1->{orders}, $first[0]{orders}, 'int field');
is($c1->{cart_abandoned_at}, $first[0]{cart_abandoned_at}, 'time field');
ok($c1->{_updated_at} =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
   'the loader stamps _updated_at');
is(get('email:a')->{id}, 'c1', 'an alias finds its profile');
is(get('c2')->{clv}, '12', 'a decimal from a JSON integer');

my $gen = generation();
ok($gen >= 1, 'a generation after the first commit');

# c1 again: fields replaced whole, one alias dropped, one taken from c2

($st, $out) = load('b.jsonl',
    { id => 'c1', aliases => ['login:1', 'login:2'], first_name => 'Anne' });
is($st, 0, 'second load succeeds') or diag $out;

$c1 = get('c1');
is($c1->{first_name}, 'Anne', 'an upsert replaces the field');
ok(!exists $c1->{clv}, 'an upsert replaces the whole profile');
is(get('email:a'), undef, 'a dropped alias is gone');
is(get('login:2')->{id}, 'c1', 'a claimed alias moves to the new profile');
is_deeply(get('c2')->{aliases}, [], 'and leaves the old profile');
is(generation(), $gen + 1, 'one commit, one generation more');

($st, $out) = $t->run_tool('pz-check', '-d', $store);
is($st, 0, 'the store checks clean after the moves') or diag $out;

# batches: -b 2 commits rows 1-2, the bad row 4 fails the second batch

my @rows = map { { id => "b$_", first_name => "n$_" } } 1 .. 3;
$gen = generation();

my $file = $t->write_file('batch.jsonl', join('',
    (map { $json->encode($_) . "\n" } @rows),
    qq{{"id":"b4","orders":"many"}\n}));
($st, $out) = $t->run_tool('pz-load', '-b', '2', '-d', $store, $file);

isnt($st, 0, 'a bad row fails the load');
like($out, qr/batch\.jsonl:4: field "orders": expected int, got "many"/,
     'the message names file, line and reason');
like($out, qr/1 earlier batch \(2 rows\) stay committed/,
     'the message says what stays committed');
ok(get('b1') && get('b2'), 'the first batch is committed');
is(get('b3'), undef, 'nothing of the failed batch is committed');
is(generation(), $gen + 1, 'one commit for the one good batch');

# a type change is refused in an upsert

my $schema2 = $t->write_file('schema2.json', '{"orders":"string"}');
($st, $out) = $t->run_tool('pz-load', '-d', $store, '-s', $schema2,
                           $t->write_file('empty.jsonl', ''));
isnt($st, 0, 'a changed field type is refused');
like($out, qr/field "orders": the store has it as int, the schema says string/,
     'the message names field and types');

# the first load into an empty store takes the build path (sorted
# aliases merged at the end): two rows claiming one alias still fail it

my $fresh = $t->dir . '/fresh';
$file = $t->write_file('claim.jsonl', join('',
    qq{{"id":"f1","aliases":["same"]}\n},
    qq{{"id":"f2","aliases":["same"]}\n}));
($st, $out) = $t->run_tool('pz-load', '-d', $fresh, '-s', $schema, $file);
isnt($st, 0, 'an alias claimed twice fails a first load');
like($out, qr/claim\.jsonl:2: alias "same" of "f2" already belongs to "f1"/,
     'the message names both profiles');
($st, $out) = $t->run_tool('pz-stat', '-d', $fresh);
like($out, qr/^  profiles: 0$/m, 'and nothing is committed');

done_testing();
