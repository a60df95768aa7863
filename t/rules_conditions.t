#!/usr/bin/perl

# Rule conditions: every condition with a positive and a negative case,
# "not", "or" inside a line and AND across lines, seen through
# $personalize_slot_<slot> (the rule that wins each slot).

use strict;
use warnings;

use Test::More;
use POSIX qw(strftime);

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my $now = time;
my $iso = sub { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime($_[0])) };

my %schema = (segments => 'list', first_name => 'string', clv => 'decimal',
              points => 'int', cart_at => 'time', bought_at => 'time',
              city => 'string', favourites => 'list');

$t->load_store([
    { id => 'vip', segments => ['vip', 'newsletter'], first_name => 'Anna',
      clv => '500.25', points => 1000, city => 'Utrecht',
      favourites => ['p1', 'p2'] },
    { id => 'cart', segments => ['cart_abandoned'],
      cart_at => $iso->($now - 3600), bought_at => $iso->($now - 100 * 86400),
      clv => '500.24', points => 999 },
    { id => 'oldcart', segments => ['cart_abandoned', 'loss_making'],
      cart_at => $iso->($now - 3 * 86400),
      bought_at => $iso->($now - 10 * 86400) },
    { id => 'plain' },
], schema => \%schema);

$t->write_file('blocks/x.html', "<b>x</b>\n");

# one slot per condition under test; the rule fills it when it matches
my @rules = (
    [seg_any       => 'segment vip,cart_abandoned'],
    [seg_all       => 'segment all vip,newsletter'],
    [seg_none      => 'segment none vip,cart_abandoned'],
    [not_seg       => 'not segment vip'],
    [clv_ge        => 'field clv >= 500.25'],
    [clv_lt        => 'field clv < 500.25'],
    [points_eq     => 'field points = 1000'],
    [points_ne     => 'field points != 1000'],
    [points_gt_dec => 'field points > 999.5'],
    [name_eq       => 'field first_name = Anna'],
    [name_re       => 'field first_name ~ "^An"'],
    [name_rei      => 'field first_name ~* "^an"'],
    [name_nre      => 'field first_name !~ "^An"'],
    [city_exists   => 'field city exists'],
    [city_missing  => 'field city missing'],
    [fav_contains  => 'field favourites = p2'],
    [fav_not       => 'field favourites != p2'],
    [cart_within   => 'field cart_at within 2d'],
    [bought_older  => 'field bought_at older_than 90d'],
    [var_arg       => 'var $arg_q ~* "^shoe"'],
    [var_uri       => 'var $uri = /c/uri'],
    [var_exists    => 'var $http_x_flag exists'],
    [var_num       => 'var $arg_n >= 10'],
    [search        => 'referrer_search ~* boots'],
    [src_login     => 'source login'],
    [src_none      => 'source none'],
    [src_ident     => 'source identified'],
    [profile       => 'profile'],
    [no_profile    => 'not profile'],
    [time_now      => 'time ' . $iso->($now - 86400) . ' '
                      . $iso->($now + 86400)],
    [time_past     => 'time 2020-01-01T00:00:00Z 2020-02-01T00:00:00Z'],
    [or_line       => 'segment nosuch or field points = 999'],
    [and_lines     => "segment cart_abandoned;\n        when not segment "
                      . 'loss_making'],
);

my $conf = '';
my $loc = '';

for my $r (@rules) {
    my ($name, $when) = @$r;
    $conf .= "    personalize_rule $name { slot $name; when $when; "
           . "block blocks/x.html; }\n";
    $loc .= "$name=\$personalize_slot_$name;";
}

$t->run(<<"EOF");
http {
    personalize_store %%DIR%%/store;
    personalize_identity login \$http_x_login;
    personalize_max_blocks 100;

$conf
    server {
        listen 127.0.0.1:%%PORT%%;

        location / {
            return 200 "$loc";
        }
    }
}
EOF

sub won {
    my ($path, @h) = @_;
    my $r = $t->get($path, @h);
    my %w = $r->{body} =~ /(\w+)=([^;]*);/g;
    return { map { $_ => ($w{$_} ne '') } keys %w };
}

my $vip = won('/', 'X-Login' => 'vip');
my $cart = won('/', 'X-Login' => 'cart');
my $old = won('/', 'X-Login' => 'oldcart');
my $plain = won('/', 'X-Login' => 'plain');
my $anon = won('/');

is(scalar keys %$vip, scalar @rules, 'every slot variable reported');

ok($vip->{seg_any}, 'segment any: vip matches');
ok($cart->{seg_any}, 'segment any: second segment matches');
ok(!$plain->{seg_any}, 'segment any: no segment');
ok($vip->{seg_all}, 'segment all: both');
ok(!$cart->{seg_all}, 'segment all: neither');
ok($plain->{seg_none}, 'segment none: none of them');
ok(!$cart->{seg_none}, 'segment none: has one');
ok($anon->{seg_none}, 'segment none: anonymous');
ok($cart->{not_seg}, 'not segment: not vip');
ok(!$vip->{not_seg}, 'not segment: vip');

ok($vip->{clv_ge}, 'decimal >= equal value');
ok(!$cart->{clv_ge}, 'decimal >= one ten-thousandth below');
ok($cart->{clv_lt}, 'decimal <');
ok(!$vip->{clv_lt}, 'decimal < equal value');
ok(!$plain->{clv_lt}, 'missing field: comparison false');
ok($vip->{points_eq}, 'int =');
ok(!$cart->{points_eq}, 'int = other value');
ok($cart->{points_ne}, 'int !=');
ok(!$vip->{points_ne}, 'int != same value');
ok(!$plain->{points_ne}, 'missing field: != false too');
ok($vip->{points_gt_dec}, 'int against a decimal operand');
ok(!$cart->{points_gt_dec}, 'int against a decimal operand, below');

ok($vip->{name_eq}, 'string =');
ok(!$cart->{name_eq}, 'string = missing');
ok($vip->{name_re}, 'regex ~');
ok($vip->{name_rei}, 'regex ~* caseless');
ok(!$vip->{name_nre}, 'regex !~ on a match');
ok(!$plain->{name_nre}, 'regex !~ on a missing field');
ok($vip->{city_exists}, 'exists');
ok(!$cart->{city_exists}, 'exists: missing');
ok($cart->{city_missing}, 'missing');
ok(!$vip->{city_missing}, 'missing: present');
ok($vip->{fav_contains}, 'list = item');
ok(!$vip->{fav_not}, 'list != item it holds');

ok($cart->{cart_within}, 'within 2d: an hour ago');
ok(!$old->{cart_within}, 'within 2d: three days ago');
ok(!$vip->{cart_within}, 'within: missing field');
ok($cart->{bought_older}, 'older_than 90d: 100 days ago');
ok(!$old->{bought_older}, 'older_than 90d: 10 days ago');
ok(!$vip->{bought_older}, 'older_than: missing field');

ok(won('/?q=Shoes')->{var_arg}, 'var $arg_q regex');
ok(!won('/?q=boots')->{var_arg}, 'var $arg_q regex no match');
ok(won('/c/uri')->{var_uri}, 'var $uri =');
ok(!won('/c/other')->{var_uri}, 'var $uri = other');
ok(won('/', 'X-Flag' => '1')->{var_exists}, 'var exists');
ok(!$anon->{var_exists}, 'var exists: empty');
ok(won('/?n=10')->{var_num}, 'var numeric >=');
ok(!won('/?n=9.99')->{var_num}, 'var numeric >= below');
ok(!won('/?n=abc')->{var_num}, 'var numeric: not a number');

ok(won('/', Referer => 'https://www.google.com/search?client=x&q=red+Boots')
   ->{search}, 'referrer_search from q');
ok(won('/', Referer => 'https://search.yahoo.com/search?p=boots%20red')
   ->{search}, 'referrer_search from p, percent-encoded');
ok(won('/', Referer => 'https://yandex.ru/search/?text=boots')->{search},
   'referrer_search from text');
ok(!won('/', Referer => 'https://www.google.com/search?q=shoes')->{search},
   'referrer_search other words');
ok(!won('/', Referer => 'https://example.com/boots')->{search},
   'referrer_search: path is not a search');

ok($vip->{src_login}, 'source login');
ok(!$anon->{src_login}, 'source login: anonymous');
ok($anon->{src_none}, 'source none');
ok(!$vip->{src_none}, 'source none: identified');
ok($vip->{src_ident}, 'source identified');
ok(!$anon->{src_ident}, 'source identified: anonymous');

ok($plain->{profile}, 'profile found');
ok(!won('/', 'X-Login' => 'nobody')->{profile}, 'profile: unknown id');
ok($anon->{no_profile}, 'not profile: anonymous');

ok($anon->{time_now}, 'time window around now');
ok(!$anon->{time_past}, 'time window in the past');

ok($cart->{or_line}, 'or: second alternative');
ok(!$vip->{or_line}, 'or: neither');
ok($cart->{and_lines}, 'and: both lines hold');
ok(!$old->{and_lines}, 'and: suppressed by the second line');

my $r = $t->get('/', 'X-Login' => 'vip');
like($r->{body}, qr/seg_any=seg_any;/, 'the slot variable names the rule');

$t->stop;

done_testing;
