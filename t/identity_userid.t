#!/usr/bin/perl

# The visitor cookie of nginx's own userid module as the identity source:
# $uid_set on the first visit, $uid_got after it, the same id both times.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

$t->run(<<'EOF');
http {
    userid         on;
    userid_name    uid;
    userid_expires 365d;

    personalize_identity cookie $uid_got$uid_set;

    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            return 200 "[$personalize_id|$personalize_id_source]";
        }
    }
}
EOF

my $r = $t->get('/');
my ($cookie) = ($r->{headers}{'set-cookie'} || '') =~ /^(uid=[^;]+)/;

ok($cookie, 'userid sets a cookie on the first visit');
my ($id) = $r->{body} =~ /^\[([^|]*)\|cookie\]$/;
ok($id, 'the first visit is already identified, by $uid_set')
    or diag($r->{body});

$r = $t->get('/', Cookie => $cookie || 'none');
is($r->{body}, "[$id|cookie]", 'the next visit: the same id, by $uid_got')
    if $id;
ok(!$r->{headers}{'set-cookie'}, 'no new cookie on the next visit');

my $r2 = $t->get('/');
isnt($r2->{body}, $r->{body}, 'another visitor, another id');

$t->stop;

done_testing;
