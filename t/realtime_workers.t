#!/usr/bin/perl

# Counters and metrics are shared by the workers: parallel clients over
# several workers count every request exactly once.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use PzTest;
use POSIX ();

my ($CLIENTS, $EACH) = (8, 40);

my $t = PzTest->new(workers => 4);

$t->run(<<'EOF');
http {
    personalize_zone rt:1m key=$cookie_uid;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /hit {
            personalize_event hits;
            personalize_event tagged push=$arg_tag keep=3;
            return 200 "hit\n";
        }

        location /peek {
            add_header X-Hits $personalize_counter_hits always;
            return 200 "peek\n";
        }

        location /status {
            personalize_status;
        }
    }
}
EOF

my @pids;

for my $c (1 .. $CLIENTS) {
    my $pid = fork() // die "fork() failed: $!";

    if ($pid == 0) {
        my $bad = 0;
        for my $i (1 .. $EACH) {
            my $r = $t->get("/hit?tag=t$c", Cookie => 'uid=shared');
            $bad++ if $r->{status} != 200;
            $t->get('/hit', Cookie => "uid=own$c");
        }
        POSIX::_exit($bad ? 1 : 0);
    }

    push @pids, $pid;
}

my $failed = 0;
for (@pids) {
    waitpid($_, 0);
    $failed++ if $?;
}

is($failed, 0, 'every parallel request served');

my $n = $CLIENTS * $EACH;

is($t->get('/peek', Cookie => 'uid=shared')->{headers}{'x-hits'}, $n,
   "one visitor over $CLIENTS parallel clients: $n hits");
is($t->get('/peek', Cookie => 'uid=own3')->{headers}{'x-hits'}, $EACH,
   'a visitor of one client: his own hits');

my $m = $t->get('/status')->{body};
my ($events) = $m =~ /^personalize_events_total\{event="hits"\} (\d+)$/m;
is($events, 2 * $n, 'metrics: every event of every worker');
my ($visitors) = $m =~ /^personalize_zone_visitors (\d+)$/m;
is($visitors, $CLIENTS + 1, 'visitors in the zone');

$t->stop;

done_testing;
