#!/usr/bin/perl

# Preview through the streaming filter: the page shows the block of the
# token's segments, carries exactly one Cache-Control (no-store) and the
# trace; the same page without a token keeps its default and the filter's
# Cache-Control.

use strict;
use warnings;

use Test::More;
use lib 't/lib';
use PzTest;

my $t = PzTest->new;

plan skip_all => 'pz-load or pz-sign not built'
    unless $t->has_tool('pz-load') && $t->has_tool('pz-sign');

$t->load_store([ { id => 'anna', segments => [] } ]);

my $key = $t->write_file('preview.key', 'k' x 48);
$t->write_file('blocks/vip.html', '<b>for vips</b>');
$t->write_file('html/index.html', "<html><body>\n"
    . "<!-- personalize:hero -->default hero<!-- /personalize:hero -->\n"
    . "</body></html>\n");

$t->run(<<'EOF');
http {
    types { text/html html; }

    personalize_store %%DIR%%/store;
    personalize_identity login $http_x_login;
    personalize_preview_key %%DIR%%/preview.key;

    personalize_rule vip {
        slot hero;
        when segment vip;
        block %%DIR%%/blocks/vip.html;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/html;
        personalize on;
    }
}
EOF

my ($st, $tok) = $t->run_tool('pz-sign', '-k', $key, '-t', '10m', 'pv@seg:vip');
chomp $tok;

my $r = $t->get('/index.html', 'X-Login' => 'anna');
like($r->{body}, qr/default hero/, 'no token: the default');
unlike($r->{body}, qr/personalize:/, 'no token: markers removed');
isnt($r->{headers}{'cache-control'} // '', 'no-store',
     'no token: the filter\'s Cache-Control');

$r = $t->get("/index.html?pz_preview=$tok", 'X-Login' => 'anna');
is($r->{status}, 200, 'preview served');
like($r->{body}, qr{<b>for vips</b>}, 'preview: the vip block');
unlike($r->{body}, qr/default hero/, 'preview: not the default');
my @cc = grep { lc $_->[0] eq 'cache-control' } @{$r->{header_list}};
is(scalar @cc, 1, 'preview: one Cache-Control header');
is($cc[0] && $cc[0][1], 'no-store', 'preview: Cache-Control: no-store');
like($r->{headers}{'x-personalize-trace'} // '', qr{hero/vip yes},
     'preview: the trace');

$t->stop;

done_testing;
