#!/usr/bin/perl

# personalize_status: Prometheus text and JSON, counters shared by the
# workers, values after a scripted sequence of requests.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use lib 't/lib';
use PzTest;

my $t = PzTest->new(workers => 2);

plan(skip_all => 'pz-load not built') unless $t->has_tool('pz-load');

$t->load_store([
    { id => 'anna', segments => ['vip'] },
    { id => 'bert', segments => [] },
]);

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store;
    personalize_zone rt:64k key=$personalize_id;
    personalize_identity login $http_x_login;
    personalize_identity cookie $cookie_pzid;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /page {
            add_header X-Profile $personalize_profile always;
            return 200 "page\n";
        }

        location /static {
            return 200 "static\n";
        }

        location /search {
            personalize_event searches;
            add_header X-Profile $personalize_profile always;
            return 200 "search\n";
        }

        location /status {
            personalize_status;
        }
    }
}
EOF

sub metrics {
    my $r = $t->get('/status');
    my %m;
    for (split /\n/, $r->{body}) {
        next if /^#/;
        my ($k, $v) = /^(\S+) (\d+)$/ or next;
        $m{$k} = $v;
    }
    return ($r, \%m);
}

my ($r, $m) = metrics();
is($r->{status}, 200, 'status page served');
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4},
     'Prometheus text format');
is($m->{personalize_requests_total} // 0, 0, 'no requests counted yet');

# the script: 3 logged-in with profile, 2 cookie without profile,
# 1 anonymous, 2 static requests that never ask who the visitor is
$t->get('/page', 'X-Login' => 'anna') for 1 .. 2;
$t->get('/search', 'X-Login' => 'bert');
$t->get('/page', Cookie => 'pzid=nobody') for 1 .. 2;
$t->get('/page');
$t->get('/static', 'X-Login' => 'anna') for 1 .. 2;
$t->get('/search', 'X-Login' => 'anna');

($r, $m) = metrics();

is($m->{personalize_requests_total}, 1 + 9,
   'requests: all main requests, the first status page included');
is($m->{'personalize_identified_total{source="login"}'}, 4,
   'identified by login');
is($m->{'personalize_identified_total{source="cookie"}'}, 2,
   'identified by cookie');
is($m->{'personalize_identified_total{source="none"}'}, 1, 'anonymous');
is($m->{'personalize_profile_lookups_total{result="hit"}'}, 4,
   'profile hits');
is($m->{'personalize_profile_lookups_total{result="miss"}'}, 2,
   'profile misses');
is($m->{'personalize_events_total{event="searches"}'}, 2, 'events');
ok(defined $m->{personalize_store_generation}, 'store generation');
ok(defined $m->{personalize_store_age_seconds}, 'store age');
is($m->{personalize_zone_visitors}, 2, 'visitors in the zone');
is($m->{personalize_zone_evictions_total}, 0, 'no evictions');
ok($m->{personalize_zone_pages} > $m->{personalize_zone_pages_free},
   'zone pages in use');
like($r->{body}, qr/^# TYPE personalize_identified_total counter$/m,
     'TYPE line');
like($r->{body}, qr/^# HELP personalize_requests_total \S/m, 'HELP line');

my @bad = grep {
    !/^# (HELP \S+ \S.*|TYPE \S+ (counter|gauge))$/
    && !/^[a-z_]+(\{[a-z_]+="[A-Za-z0-9_.:-]*"(,[a-z_]+="[A-Za-z0-9_.:-]*")*\})? \d+$/
} split /\n/, $r->{body};
is_deeply(\@bad, [], 'every line is valid Prometheus text');

my @families = $r->{body} =~ /^# TYPE (\S+)/mg;
my %once;
is(scalar(grep { $once{$_}++ } @families), 0, 'each family once');

# JSON
$r = $t->get('/status?format=json');
is($r->{headers}{'content-type'}, 'application/json', 'JSON content type');
my $j = eval { decode_json($r->{body}) };
ok($j, 'valid JSON') or diag($@, $r->{body});

my ($login) = grep {
    $_->{name} eq 'personalize_identified_total'
        && $_->{labels}{source} eq 'login'
} @{$j->{metrics} || []};
is($login && $login->{value}, 4, 'JSON: identified by login, with labels');

$r = $t->get('/status', -method => 'POST');
is($r->{status}, 405, 'POST not allowed');

# counters survive a reload
$t->reload;
($r, $m) = metrics();
is($m->{'personalize_identified_total{source="login"}'}, 4,
   'counters survive a reload');

$t->stop;

done_testing;
