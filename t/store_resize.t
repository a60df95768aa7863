#!/usr/bin/perl

# The loader grows the map of the live store (MDB_MAP_RESIZED for the
# readers): workers adopt the new size and keep reading, no request fails.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my %schema = (name => 'string');

$t->load_store([{ id => 'c1', name => 'small' }], schema => \%schema,
               args => ['-m', '1M']);

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;

    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            return 200 "[$personalize_profile|$personalize_field_name]";
        }
    }
}
EOF

is($t->get('/', 'X-Login' => 'c1')->{body}, '[1|small]', 'small map');

# about 8 MB of profiles: far beyond the first map of 1 MB
$t->load_store([ map { { id => "c$_", name => ('x' x 800) . $_ } } 2 .. 10000 ],
               schema => \%schema, args => ['-m', '64M', '-q']);

my $bad = 0;
for my $i (1, 2, 5000, 10000, 9999) {
    my $r = $t->get('/', 'X-Login' => "c$i");
    my $want = $i == 1 ? '[1|small]' : '[1|' . ('x' x 800) . "$i]";
    is($r->{body}, $want, "profile c$i read after the map grew");
}

like($t->error_log, qr/\[info\].*map resized by the writer/,
     'the workers saw MDB_MAP_RESIZED and adopted the size');
unlike($t->error_log, qr/\[error\].*mdb_txn_begin/,
       'no failed read transaction');

$t->stop;

done_testing;
