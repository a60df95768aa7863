#!/usr/bin/perl

# The core module's variables with a profile store: every field type in
# its text form, lists, not-found values, and use from log_format, map,
# add_header, proxy_set_header and if.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;
use PzBackend;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my %schema = (segments => 'list', first_name => 'string', clv => 'decimal',
              orders => 'int', last_seen => 'time', favourites => 'list',
              empty_list => 'list', note => 'string');

$t->load_store([
    { id => 'c1', aliases => ['login:42'], segments => ['vip', 'newsletter'],
      first_name => 'Anna', clv => '1234.50', orders => 7,
      last_seen => '2026-11-22T10:00:00Z', favourites => ['p1', 'p2', 'p3'],
      empty_list => [], note => '' },
    { id => 'c2', first_name => 'Ben', clv => -3, orders => -12 },
], schema => \%schema);

my $backend = PzBackend->new(port => $t->port(2), handler => sub {
    my ($req) = @_;
    return (200, ['Content-Type' => 'text/plain'],
            ['seg=' . ($req->{headers}{'x-segments'} // '(none)')]);
});

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;

    log_format pz '$personalize_id $personalize_id_source '
                  '$personalize_profile $personalize_segments';
    access_log %%DIR%%/pz.log pz;

    map $personalize_segments $tier {
        ~(^|,)vip(,|$)  gold;
        default         standard;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location /v {
            return 200 "id=$personalize_id|pid=$personalize_profile_id|src=$personalize_id_source|p=$personalize_profile|seg=$personalize_segments";
        }

        location /f {
            return 200 "fn=$personalize_field_first_name|clv=$personalize_field_clv|orders=$personalize_field_orders|seen=$personalize_field_last_seen|fav=$personalize_field_favourites";
        }

        location /store {
            return 200 "gen=$personalize_store_generation|built=$personalize_store_built";
        }

        location /map {
            return 200 "tier=$tier";
        }

        location /header {
            add_header X-First-Name $personalize_field_first_name;
            return 204;
        }

        location /if {
            if ($personalize_profile = 0) {
                return 200 "anonymous";
            }
            return 200 "known";
        }

        location /proxy {
            proxy_set_header X-Segments $personalize_segments;
            proxy_pass http://127.0.0.1:%%PORT2%%;
        }

        # not found values: map gives the default, not an invented one
        location /nf {
            return 200 "[$nf_note|$nf_empty|$nf_missing]";
        }
    }

    map $personalize_field_note $nf_note { "" "(empty)"; default $personalize_field_note; }
    map $personalize_field_empty_list $nf_empty { "" "(empty)"; default x; }
    map $personalize_field_no_such_field $nf_missing { "" "(empty)"; default x; }
}
EOF

sub body { my $r = $t->get(@_); $r->{status} == 200 ? $r->{body} : "status $r->{status}" }

is(body('/v', 'X-Login' => 'c1'),
   'id=c1|pid=c1|src=login|p=1|seg=vip,newsletter', 'identity of a profile');
is(body('/v', 'X-Login' => 'login:42'),
   'id=login:42|pid=c1|src=login|p=1|seg=vip,newsletter',
   'an alias resolves to its profile');
is(body('/v', 'X-Login' => 'c2'), 'id=c2|pid=c2|src=login|p=1|seg=',
   'a profile without segments');
is(body('/v', 'X-Login' => 'nobody'), 'id=nobody|pid=|src=login|p=0|seg=',
   'an id without a profile');
is(body('/v'), 'id=|pid=|src=none|p=0|seg=', 'anonymous');

is(body('/f', 'X-Login' => 'c1'),
   'fn=Anna|clv=1234.5|orders=7|seen=2026-11-22T10:00:00Z|fav=p1,p2,p3',
   'string, decimal, int, time and list fields');
is(body('/f', 'X-Login' => 'c2'),
   'fn=Ben|clv=-3|orders=-12|seen=|fav=', 'negative numbers, absent fields');

like(body('/store'), qr/^gen=\d+\|built=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
     'store generation and build time');
my ($gen) = body('/store') =~ /gen=(\d+)/;
ok($gen && $gen >= 1, 'generation counts commits');

is(body('/map', 'X-Login' => 'c1'), 'tier=gold', 'map on segments');
is(body('/map', 'X-Login' => 'c2'), 'tier=standard', 'map default');

is($t->get('/header', 'X-Login' => 'c1')->{headers}{'x-first-name'}, 'Anna',
   'add_header');
is(body('/if', 'X-Login' => 'c1'), 'known', 'if with a profile');
is(body('/if'), 'anonymous', 'if without');

is(body('/proxy', 'X-Login' => 'c1'), 'seg=vip,newsletter',
   'proxy_set_header');
is(body('/proxy'), 'seg=(none)',
   'proxy_set_header leaves out an empty value');

is(body('/nf', 'X-Login' => 'c1'), '[(empty)|(empty)|(empty)]',
   'empty string, empty list and missing field are empty');

$t->stop;

my @log = split /\n/, $t->read_file('pz.log');
ok((grep { $_ eq 'c1 login 1 vip,newsletter' } @log), 'log_format')
    or diag(join "\n", @log);
ok((grep { $_ eq '- none 0 -' } @log), 'log_format: not found is "-"');

done_testing;
