#!/usr/bin/perl

# Preview tokens: a valid token shows the page with the token's segments
# and forced variant, with Cache-Control: no-store and a trace header, and
# is left out of counters, caps and metrics; expired, forged, foreign and
# malformed tokens are ignored.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use PzTest;

my $t = PzTest->new;

plan skip_all => 'pz-load or pz-sign not built'
    unless $t->has_tool('pz-load') && $t->has_tool('pz-sign');

$t->load_store([
    { id => 'anna', segments => ['newsletter'] },
    { id => 'vera', segments => ['vip'] },
]);

my $pkey = $t->write_file('preview.key', 'p' x 40 . "\n");
my $vkey = $t->write_file('visitor.key', 'v' x 40 . "\n");
$t->write_file('blocks/vip.html', "<b>vip</b>\n");
$t->write_file('blocks/b.html', "<b>b</b>\n");

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;
    personalize_key %%DIR%%/visitor.key;
    personalize_preview_key %%DIR%%/preview.key;
    personalize_zone rt:1m key=$personalize_id;

    personalize_experiment hero-test {
        variant a 50%;
        variant b 50%;
    }

    personalize_rule vip {
        slot hero;
        when segment vip;
        priority 10;
        block %%DIR%%/blocks/vip.html;
    }

    personalize_rule hero-b {
        slot hero;
        when variant hero-test b;
        block %%DIR%%/blocks/b.html;
    }

    server {
        listen 127.0.0.1:%%PORT%%;

        location /page {
            personalize_event views;
            add_header X-Slot "[$personalize_slot_hero]" always;
            add_header X-Exp "[$personalize_experiments]" always;
            add_header X-Views "[$personalize_counter_views]" always;
            add_header X-Preview "[$personalize_preview]" always;
            add_header Cache-Control "max-age=60" always;
            return 200 "page\n";
        }

        location /status {
            personalize_status;
        }
    }
}
EOF

sub sign {
    my ($key, $payload, @opt) = @_;
    my ($st, $out) = $t->run_tool('pz-sign', '-k', $key, @opt, $payload);
    die "pz-sign failed: $out" if $st != 0;
    chomp $out;
    return $out;
}

my $vip = sign($pkey, 'pv@seg:vip', '-t', '1h');
my $b = sign($pkey, 'pv@seg@exp:hero-test:b', '-t', '1h');
my $expired = sign($pkey, 'pv@seg:vip', '-e', time - 10);
my $foreign = sign($vkey, 'pv@seg:vip', '-t', '1h');
my $notpv = sign($pkey, 'anna', '-t', '1h');
(my $forged = $vip) =~ s/pv\@seg:vip/pv\@seg:vix/;

# without a token
my $r = $t->get('/page', 'X-Login' => 'anna');
is($r->{headers}{'x-slot'}, '[]', 'no token: anna is no vip');
is($r->{headers}{'cache-control'}, 'max-age=60', 'no token: cache header');
ok(!exists $r->{headers}{'x-personalize-trace'}, 'no token: no trace');

# a valid token in the query
$r = $t->get("/page?pz_preview=$vip", 'X-Login' => 'anna');
is($r->{status}, 200, 'preview served');
is($r->{headers}{'x-slot'}, '[vip]', 'preview: the token\'s segments');
is($r->{headers}{'cache-control'}, 'no-store',
   'preview: Cache-Control no-store replaces the page\'s');
my $trace = $r->{headers}{'x-personalize-trace'} // '';
note("trace: $trace");
is($r->{headers}{'x-preview'}, '[pv@seg:vip]', '$personalize_preview');
like($trace, qr/visitor="anna"/, 'trace: visitor');
like($trace, qr/generation=\d+/, 'trace: store generation');
like($trace, qr{hero/vip yes}, 'trace: the winning rule matched');
like($trace, qr{hero/hero-b no "[^"]+"}, 'trace: why the other did not');
like($trace, qr/decisions slots=hero:vip/, 'trace: the decisions');

# the same token as a cookie, percent-encoded
(my $enc = $vip) =~ s/([\@:])/sprintf('%%%02X', ord $1)/ge;
$r = $t->get("/page?pz_preview=$enc", 'X-Login' => 'anna');
is($r->{headers}{'x-slot'}, '[vip]', 'a percent-encoded token works');

$r = $t->get('/page', 'X-Login' => 'anna', Cookie => "pz_preview=$vip");
is($r->{headers}{'x-slot'}, '[vip]', 'the token as a cookie works');

# view as another profile
my $asvera = sign($pkey, 'pv@id:vera', '-t', '1h');
$r = $t->get("/page?pz_preview=$asvera");
is($r->{headers}{'x-slot'}, '[vip]', 'preview as a profile: its segments');
like($r->{headers}{'x-personalize-trace'} // '', qr/visitor="vera" profile=yes/,
     'preview as a profile: the trace names it');
$r = $t->get("/page?pz_preview=$asvera", 'X-Login' => 'anna');
is($r->{headers}{'x-slot'}, '[vip]', 'also for a logged-in editor');

# forced variant, no segments
$r = $t->get("/page?pz_preview=$b", 'X-Login' => 'anna');
is($r->{headers}{'x-slot'}, '[hero-b]', 'forced variant b wins the slot');
like($r->{headers}{'x-exp'}, qr/hero-test=b/, 'and is the variant shown');

# tokens that must be ignored
for my $bad ([$expired, 'expired'], [$forged, 'forged'],
             [$foreign, 'signed with the visitor key'],
             [$notpv, 'not a preview payload'],
             ['garbage', 'malformed'])
{
    my ($tok, $name) = @$bad;
    $r = $t->get("/page?pz_preview=$tok", 'X-Login' => 'anna');
    is($r->{status}, 200, "$name token: served");
    is($r->{headers}{'x-slot'}, '[]', "$name token: ignored");
    ok(!exists $r->{headers}{'x-personalize-trace'}, "$name token: no trace");
    is($r->{headers}{'x-preview'}, '[]', "$name token: no \$personalize_preview");
    is($r->{headers}{'cache-control'}, 'max-age=60',
       "$name token: the page's cache header");
}

like($t->error_log, qr/\[info\].*preview token ignored: /,
     'ignored tokens are logged at info level');

# preview requests count nowhere
$r = $t->get('/page', 'X-Login' => 'anna');
my $views = $r->{headers}{'x-views'};
$t->get("/page?pz_preview=$vip", 'X-Login' => 'anna') for 1 .. 3;
$r = $t->get('/page', 'X-Login' => 'anna');
($views) = $views =~ /(\d+)/;
is($r->{headers}{'x-views'}, '[' . ($views + 1) . ']',
   'preview requests do not count events');

my $m = $t->get('/status')->{body};
my ($pv) = $m =~ /^personalize_preview_requests_total (\d+)$/m;
is($pv, 1 + 1 + 1 + 2 + 1 + 3, 'preview requests counted apart');
my %rej = $m =~ /^personalize_preview_rejected_total\{reason="(\w+)"\} (\d+)$/mg;
is_deeply(\%rej, { expired => 1, forged => 2, malformed => 1, payload => 1 },
          'rejected tokens counted by reason');
my ($wins) = $m =~ /^personalize_rule_wins_total\{slot="hero",rule="vip"\} (\d+)$/m;
ok(!defined $wins, 'no rule wins counted from previews');

$t->stop;

done_testing;
