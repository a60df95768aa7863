#!/usr/bin/perl

# personalize_zone: bounded by its size (the least recently used visitors
# are evicted with one log line, never an error page), reused across
# reloads, and checked by nginx -t.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use PzTest;

my $t = PzTest->new;

my $conf = <<'EOF';
http {
    personalize_zone rt:32k expire=1h key=$cookie_uid;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /view {
            personalize_event views;
            return 200 "view\n";
        }

        location /product {
            personalize_event viewed push=$arg_p;
            return 200 "product\n";
        }

        location /page {
            add_header X-Views $personalize_counter_views always;
            add_header X-Viewed "[$personalize_recent_viewed]" always;
            %%EXTRA%%
            return 200 "page\n";
        }
    }
}
EOF

(my $c1 = $conf) =~ s/%%EXTRA%%//;
$t->run($c1);

sub views {
    my ($uid) = @_;
    return $t->get('/page', Cookie => "uid=$uid")->{headers}{'x-views'};
}

$t->get('/view', Cookie => 'uid=first') for 1 .. 3;
is(views('first'), 3, 'three views counted');

# reload with a changed configuration: the zone and its visitors stay
(my $c2 = $conf) =~ s/%%EXTRA%%/add_header X-Reloaded yes always;/;
$t->reload($c2);

my $r = $t->get('/page', Cookie => 'uid=first');
is($r->{headers}{'x-reloaded'}, 'yes', 'the new configuration runs');
is($r->{headers}{'x-views'}, 3, 'counters survive a reload');

$t->get('/view', Cookie => 'uid=first');
is(views('first'), 4, 'and go on counting after it');

# fill the zone: far more visitors than 32k hold
my $bad = 0;
for my $i (1 .. 1500) {
    my $r = $t->get('/view', Cookie => "uid=visitor-$i");
    $bad++ if $r->{status} != 200;
}

is($bad, 0, 'every request of a full zone is served');
is(views('first'), 0, 'the least recently used visitor was evicted');
is(views('visitor-1500'), 1, 'the most recent visitor is kept');

# a full zone of small records makes room for a larger one too
$r = $t->get('/product?p=sku-1', Cookie => 'uid=late');
is($r->{status}, 200, 'a product view in the full zone is served');
$t->get('/product?p=sku-2', Cookie => 'uid=late');
is($t->get('/page', Cookie => 'uid=late')->{headers}{'x-viewed'},
   '[sku-2,sku-1]', 'its recent values are kept');

my @lines = $t->error_log
            =~ /(\[warn\].*personalize_zone "rt" is full, evicted[^\n]*)/g;
is(scalar @lines, 1, 'one log line for the evictions') or diag(@lines);
unlike($t->error_log, qr/ngx_slab_alloc\(\) failed/,
       'no slab allocator error in the log');

$t->stop;

# nginx -t catches operators' mistakes with file and line
my @bad = (
    [ 'personalize_zone rt;', qr/has no size/, 'zone without size' ],
    [ 'personalize_zone rt:1k;', qr/too small/, 'zone too small' ],
    [ 'personalize_zone rt:1m expire=soon;', qr/invalid expire/,
      'bad expire' ],
    [ 'personalize_zone rt:1m; personalize_zone rt2:1m;', qr/is duplicate/,
      'two zones' ],
    [ 'personalize_event views;', qr/needs a personalize_zone/,
      'event without zone' ],
    [ 'personalize_zone rt:1m; personalize_event "bad name";',
      qr/may hold only/, 'bad event name' ],
    [ 'personalize_zone rt:1m; personalize_event v keep=3;',
      qr/keep=" without "push=/, 'keep without push' ],
    [ 'personalize_zone rt:1m; personalize_event v frob=1;',
      qr/invalid parameter "frob=1"/, 'unknown parameter' ],
    [ 'personalize_zone rt:1m; personalize_cap r 0 1h;', qr/invalid cap/,
      'cap of zero' ],
    [ 'personalize_zone rt:1m; personalize_cap r 1 often;',
      qr/invalid cap period/, 'bad cap period' ],
    [ 'personalize_zone rt:1m; personalize_cap r 1 1h; '
      . 'personalize_cap r 2 1h;', qr/already capped/, 'cap twice' ],
    [ 'personalize_zone rt:1m; personalize_cap nonesuch 1 1h;',
      qr/personalize_cap names the unknown rule "nonesuch"/,
      'cap of an unknown rule' ],
);

for my $b (@bad) {
    my ($directives, $re, $name) = @$b;

    my $t2 = PzTest->new;
    my ($ok, $out) = $t2->nginx_t(<<"EOF");
http {
    $directives
    server { listen 127.0.0.1:%%PORT%%; }
}
EOF
    ok(!$ok, "nginx -t fails: $name");
    like($out, $re, "message: $name");
    like($out, qr/nginx-t\.conf:\d+/, "file and line: $name");
}

done_testing;
