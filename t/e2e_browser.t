#!/usr/bin/perl
# End to end in a real browser: the demo shop (conf/nginx.conf, its rules
# and sample profiles) in Debian's headless chromium, driven by
# t/e2e/driver.js (playwright-core).  A person's view as each persona: the
# hero, the prefilled coupon, the chat prompt, and no console error.
#
# Skips only when chromium, node or the driver's node_modules are missing
# (make test installs them: chromium through the deps target, node_modules
# with npm ci).

use strict;
use warnings;

use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;

use lib 't/lib';
use PzTest;

binmode $_, ':encoding(UTF-8)'
    for map { Test::More->builder->$_ } qw(output failure_output todo_output);

my $chromium = $ENV{PZ_CHROMIUM} || '/usr/bin/chromium';
my $top = PzTest->top;

plan skip_all => "chromium not installed ($chromium; make deps installs it "
    . "as root: apt-get install chromium)" unless -x $chromium;
plan skip_all => 'node not installed (apt-get install nodejs)'
    unless system('node --version >/dev/null 2>&1') == 0;
plan skip_all => 'playwright-core missing in t/e2e/node_modules '
    . '(make test runs npm ci there)'
    unless -d "$top/t/e2e/node_modules/playwright-core";

my $t = PzTest->new;

plan skip_all => 'module or pz-load not built'
    unless -e $t->build . '/ngx_http_personalize_module.so'
        && $t->has_tool('pz-load');

# the demo's data, as make demo loads it: dates relative to now
my $demo = "$top/conf/demo";
my $profiles = `perl $demo/gen-profiles.pl $demo/profiles.jsonl.in`;
die "gen-profiles.pl failed" if $? || $profiles eq '';

my $dir = $t->dir;
symlink("$top/conf", "$dir/shop") or die "symlink() failed: $!";
$t->write_file('profiles.jsonl', $profiles);
$t->write_file('demo.key', join '', map { sprintf '%02x', int rand 256 } 1 .. 32);
chmod 0600, "$dir/demo.key";

for my $args (['-s', "$demo/schema.json", "$dir/profiles.jsonl"],
              ['-c', "$demo/catalog.jsonl"])
{
    my ($st, $out) = $t->run_tool('pz-load', '-d', "$dir/store", @$args);
    die "pz-load @$args failed ($st): $out" if $st != 0;
}

open my $fh, '<', "$top/conf/nginx.conf" or die "open(conf/nginx.conf): $!";
my $conf = do { local $/; <$fh> };
close $fh;

$t->run($conf);

# sanity without a browser: the shop is up
is($t->get('/')->{status}, 200, 'demo home page answers');

my @steps = (
    { go => '/personas', facts => 'personas' },

    { go => '/persona/anonymous' },
    { go => '/', facts => 'anon-home', shot => 'anonymous' },
    { go => '/checkout', facts => 'anon-checkout' },

    { go => '/persona/vip' },
    { go => '/', facts => 'vip-home', shot => 'vip' },
    { go => '/checkout', facts => 'vip-checkout' },

    { go => '/persona/cart' },
    { go => '/', facts => 'cart-home', shot => 'cart' },

    { go => '/persona/loyal' },
    { go => '/', facts => 'loyal-home' },
    { go => '/checkout', facts => 'loyal-checkout', shot => 'loyal-checkout' },

    { go => '/persona/refill' },
    { go => '/', facts => 'refill-home', shot => 'refill' },

    { go => '/persona/loss' },
    { go => '/', facts => 'loss-home' },
    { go => '/checkout', facts => 'loss-checkout' },

    { go => '/persona/mover' },
    { go => '/', facts => 'mover-home' },
    { go => '/checkout', facts => 'mover-checkout' },

    { go => '/persona/searcher' },
    { go => '/', facts => 'search-0' },
    { go => '/search?q=unicorn', facts => 'search-1' },
    { go => '/search?q=coat', facts => 'search-ok' },
    { go => '/search?q=dragon', facts => 'search-2' },
    { go => '/search?q=yeti', facts => 'search-3' },
    { go => '/', facts => 'search-after', shot => 'searcher' },
    { go => '/product?id=p-coat', facts => 'search-capped' },
);

my $profile = tempdir('pz-chromium-XXXXXXXX', TMPDIR => 1, CLEANUP => 1);
my $shots = $ENV{PZ_SHOTS} || '';
my $spec = $t->write_file('spec.json', JSON::PP->new->encode({
    base => 'http://127.0.0.1:' . $t->port,
    chromium => $chromium,
    profile => $profile,
    shots => $shots,
    steps => \@steps,
}));

my $json = `cd $top/t/e2e && timeout 180 node driver.js $spec 2>$dir/driver.err`;
my $res = eval { JSON::PP->new->utf8->decode($json) };

ok($res, 'the browser driver ran') or do {
    diag($t->read_file('driver.err'));
    $t->stop;
    done_testing;
    exit;
};

note("chromium $res->{chromium}") if $res->{chromium};
my %f = %{$res->{facts}};

# the start page
like($f{personas}{h1}, qr/Be someone else/, 'personas: start page');

# a new anonymous visitor: defaults everywhere
is($f{'anon-home'}{hero_h1}, 'Winter collection is here',
   'anonymous: default hero');
is($f{'anon-home'}{promo}, "Free delivery on orders over \x{20ac}50",
   'anonymous: default promo strip');
is($f{'anon-checkout'}{coupon}, '', 'anonymous: coupon field empty');
is($f{'anon-home'}{prompt}, undef, 'anonymous: no chat prompt');
ok(!$f{'anon-home'}{markers}, 'anonymous: no slot markers reach the browser');

# VIP: VIP hero, no discount
is($f{'vip-home'}{hero_h1}, 'Welcome back, Sophie', 'vip: VIP hero');
like($f{'vip-home'}{hero}, qr/Amsterdam Kalverstraat/,
     'vip: hero names her store');
is($f{'vip-home'}{hero_class}, 'hero vip', 'vip: VIP styling');
is($f{'vip-checkout'}{coupon}, '', 'vip: no discount code');
is(scalar @{$f{'vip-home'}{crosssell}}, 4, 'vip: four recommendations');
like($f{'vip-home'}{crosssell}[0] // '', qr/^Wool coat/,
     'vip: recommendations from the catalog');
like($f{'vip-home'}{promo}, qr/Hi Sophie, you have 2300 loyalty points/,
     'vip: promo strip greets her');
ok(!$f{'vip-home'}{markers}, 'vip: no slot markers reach the browser');

# cart abandoner: reminder enriched with size, colour, store, points
is($f{'cart-home'}{hero_h1}, 'Daan, your cart is waiting',
   'cart: cart reminder hero');
like($f{'cart-home'}{hero}, qr/Canvas sneaker.*Sport socks/,
     'cart: the cart items from the catalog');
like($f{'cart-home'}{hero}, qr/size 43, white/, 'cart: his size and colour');
like($f{'cart-home'}{hero}, qr/Utrecht Hoog Catharijne/,
     'cart: his nearest store');
like($f{'cart-home'}{hero}, qr/1250 points/, 'cart: his loyalty points');

# loyalty member: code prefilled at checkout
is($f{'loyal-home'}{hero_h1}, 'Emma, your points earned you 15% off',
   'loyal: loyalty hero');
is($f{'loyal-checkout'}{coupon}, 'POINTS15-EMMA',
   'loyal: discount code prefilled at checkout');
like($f{'loyal-checkout'}{cache_control}, qr/private|no-store/,
     'loyal: personalized page not cacheable by shared caches');

# repeat buyer: replenishment block with the reorder list
is($f{'refill-home'}{hero_h1}, 'Time for a refill, Mark?',
   'refill: replenishment hero');
is_deeply([map { /^(.*?) \x{20ac}/ ? $1 : $_ } @{$f{'refill-home'}{reorder}}],
          ['Deodorant set (3)', 'Razor blades (8)', 'Shampoo 500 ml',
           'Toothpaste (2)'], 'refill: his usual order from the catalog');

# loss-making customer: suppressed despite cart, points and code
is($f{'loss-home'}{hero_h1}, 'Winter collection is here',
   'loss: no cart reminder, no discount hero');
is($f{'loss-checkout'}{coupon}, '', 'loss: no discount code');

# mover: welcome coupon
is($f{'mover-home'}{hero_h1}, 'Welcome to your new home, Noah',
   'mover: welcome hero');
is($f{'mover-checkout'}{coupon}, 'WELCOME-NOAH5',
   'mover: welcome coupon prefilled');

# searcher: the chat prompt after three searches without results
like($f{'search-1'}{h1}, qr/No results for .unicorn./,
     'search: unknown term finds nothing');
like($f{'search-ok'}{h1}, qr/Results for .coat./, 'search: known term finds');
is($f{'search-0'}{prompt}, undef, 'search: no prompt before searching');
is($f{'search-2'}{prompt}, undef, 'search: no prompt after two failed searches');
like($f{'search-after'}{prompt} // '', qr/^Can I help you\?/,
     'search: chat prompt after three failed searches');
ok($f{'search-after'}{prompt_visible}, 'search: the prompt is visible');
is($f{'search-capped'}{prompt}, undef,
   'search: the prompt is capped at once per half hour');

# and nothing went wrong in the browser
is_deeply($res->{errors}, [], 'no console errors, page errors or failed requests')
    or diag(explain($res->{errors}));

$t->stop;
done_testing;
