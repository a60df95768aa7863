#!/usr/bin/perl

# Decision variables for logs and upstream headers: $personalize_decisions,
# $personalize_experiments, $personalize_slot_<slot>, $personalize_prompts,
# $personalize_prefills and $personalize_search_term in an access log and
# in a header to a proxied upstream; hyphens written as underscores.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;
use PzBackend;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

$t->load_store([
    { id => 'c1', segments => ['cart'], code => 'SAVE5' },
    { id => 'c2', segments => [] },
], schema => { segments => 'list', code => 'string' });

$t->write_file('blocks/cart.html', '<p>cart</p>');
$t->write_file('blocks/help.html', '<p>help</p>');

my $backend = PzBackend->new(port => $t->port(2), handler => sub {
    my ($req) = @_;
    return (200, ['Content-Type' => 'text/plain'],
            ['up=' . ($req->{headers}{'x-pz'} // '(none)')]);
});

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;

    personalize_experiment hero-test { variant a 50%; variant b 50%; }

    personalize_rule cart-reminder { slot main-hero; when segment cart;
                                     block blocks/cart.html; }
    personalize_rule help-chat { when var $arg_q exists;
                                 prompt blocks/help.html; }
    personalize_rule loyalty { when field code exists;
                               prefill coupon "{{code}}"; }

    log_format pz '$personalize_id "$personalize_decisions" '
                  '"$personalize_experiments" "$personalize_slot_main_hero" '
                  '"$personalize_prompts" "$personalize_prefills" '
                  '"$personalize_search_term"';

    server {
        listen 127.0.0.1:%%PORT%%;
        access_log %%DIR%%/pz.log pz;

        location / {
            return 200 "ok";
        }

        location /up {
            proxy_set_header X-Pz $personalize_decisions;
            proxy_pass http://127.0.0.1:%%PORT2%%;
        }
    }
}
EOF

$t->get('/?q=shoes', 'X-Login' => 'c1',
        Referer => 'https://www.google.com/search?q=red%20shoes');
$t->get('/', 'X-Login' => 'c2');
$t->get('/');

my $up = $t->get('/up', 'X-Login' => 'c1')->{body};

$t->stop;

my @log = split /\n/, $t->read_file('pz.log');
is(scalar @log, 4, 'four log lines');

like($log[0], qr/^c1 "slots=main-hero:cart-reminder;prompts=help-chat;prefills=coupon:loyalty;exp=hero-test:[ab]" "hero-test=[ab]" "cart-reminder" "help-chat" "coupon=loyalty" "red shoes"$/,
     'a visitor who got everything');
like($log[1], qr/^c2 "slots=main-hero:-;prompts=-;prefills=-;exp=hero-test:[ab]" "hero-test=[ab]" "-" "-" "-" "-"$/,
     'a visitor who got nothing but a variant');
like($log[2], qr/^- "slots=main-hero:-;prompts=-;prefills=-;exp=-" "-" "-" "-" "-" "-"$/,
     'an anonymous visitor');

my ($v1) = $log[0] =~ /exp=hero-test:(\w)/;
my ($v1b) = $log[3] =~ /exp=hero-test:(\w)/;
is($v1b, $v1, 'the same visitor, the same variant in the log');

like($up, qr/^up=slots=main-hero:cart-reminder;prompts=-;prefills=coupon:loyalty;exp=hero-test:$v1$/,
     'decisions in a header to the upstream');

done_testing;
