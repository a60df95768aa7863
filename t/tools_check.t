#!/usr/bin/perl

# pz-check walks every record and alias: a clean store passes; a corrupt
# record, a field of the wrong type, a dangling alias, an alias its
# profile does not list and a profile listing a missing alias each make it
# exit non-zero listing the problem.  pz-stat shows counts, sizes, schema,
# generation and build time.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use POSIX qw(strftime);

use lib 't/lib';
use PzTest;

my $t = PzTest->new();

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my $json = JSON::PP->new->canonical;
my @rows = map { { id => "c$_", aliases => ["a$_"], name => "N$_" } } 1 .. 20;

my $t0 = time();
my $store = $t->load_store(\@rows, schema => { name => 'string' },
    catalog => [ { id => 'p1', name => 'Mug', price => '9.95' } ]);

my ($st, $out) = $t->run_tool('pz-check', '-d', $store);
is($st, 0, 'a clean store passes') or diag $out;
like($out, qr/20 profiles, 20 aliases, 1 catalog items, generation \d+: ok/,
     'with the counts');

# pz-stat

($st, $out) = $t->run_tool('pz-stat', '-j', '-d', $store);
is($st, 0, 'pz-stat -j') or diag $out;
my $stat = eval { $json->decode($out) } || {};

is_deeply($stat->{entries}, { profiles => 20, aliases => 20, catalog => 1,
                              meta => 1 }, 'entries per database');
is_deeply($stat->{schema}, { name => 'string' }, 'the schema');
is($stat->{catalog_schema}{price}, 'decimal', 'the catalog schema');
is($stat->{map_size}, 64 << 30, 'the default map size');
is($stat->{file_size}, -s "$store/data.mdb", 'the file size');
ok($stat->{disk_usage} > 0 && $stat->{used} <= $stat->{file_size},
   'disk usage and pages used');
ok($stat->{generation} >= 2, 'the generation counts both commits');
my $bt = $stat->{build_time} || '';
ok($bt ge strftime('%Y-%m-%dT%H:%M:%SZ', gmtime($t0 - 1))
   && $bt le strftime('%Y-%m-%dT%H:%M:%SZ', gmtime(time() + 1)),
   'the build time is the load time');

($st, $out) = $t->run_tool('pz-stat', '-d', $store);
like($out, qr/^schema:\n  name: string$/m, 'the text form lists the schema');

# spoil the store with stock mdb_load (plain text input, -T)

sub plant {
    my ($db, %kv) = @_;
    my $in = join '', map { "$_\n$kv{$_}\n" } sort keys %kv;
    my $file = $t->write_file("plant-$db.txt", $in);
    my $o = `mdb_load -T -s $db -f '$file' '$store' 2>&1`;
    die "mdb_load: $o" if $?;
}

plant('profiles', c1 => 'not a record');
plant('aliases', ghost => 'nobody', a3 => 'c4');

($st, $out) = $t->run_tool('pz-check', '-d', $store);
isnt($st, 0, 'a spoiled store fails');
like($out, qr/profiles: "c1": record: not a record \(bad magic\)/,
     'a corrupt record is named');
like($out, qr/aliases: "ghost": points to "nobody", no such profile/,
     'a dangling alias is named');
like($out, qr/aliases: "a3": profile "c4" does not list it/,
     'an alias its profile does not list');
like($out, qr/profiles: "c3": alias "a3" points to "c4"/,
     'a listed alias pointing elsewhere');
like($out, qr/PROBLEMS/, 'the summary says so');

($st, $out) = $t->run_tool('pz-check', '-n', '1', '-d', $store);
my @listed = $out =~ /^pz-check: (?:profiles|aliases): /mg;
is(scalar @listed, 1, '-n 1 lists one problem');
like($out, qr/more problems not listed/, 'and says more exist');

# a field of the wrong type: a store of string records gets the meta
# record (the schema) of a store that says int

my $t2 = $t->load_store([ { id => 'z1', name => '5' } ],
                        schema => { name => 'string' }, dir => 'typed');
my $t3 = $t->load_store([ { id => 'z1', name => 5 } ],
                        schema => { name => 'int' }, dir => 'typed2');
my $mf = $t->write_file('meta.dump', scalar `mdb_dump -s meta '$t3'`);
my $o = `mdb_load -s meta -f '$mf' '$t2' 2>&1`;
is($?, 0, 'the meta record swapped') or diag $o;

($st, $out) = $t->run_tool('pz-check', '-d', $t2);
isnt($st, 0, 'a field of the wrong type fails');
like($out, qr/"z1": field "name": string, the schema says int/,
     'and is named');

done_testing();
