#!/usr/bin/perl

# Templates loop over the visitor's recent values kept by the realtime
# module ({{#each recent:EVENT}}): products viewed in this session, most
# recent first, looked up in the catalog, and a rule on the counter.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

$t->load_store([{ id => 'c1' }], catalog => [
    { id => 'p1', name => 'Boots', url => '/product/p1', image => '/i/1.jpg',
      price => '59.95' },
    { id => 'p2', name => 'Socks <3', url => '/product/p2',
      image => '/i/2.jpg', price => '4' },
]);

$t->write_file('blocks/again.html',
    '<ul>{{#each recent:viewed limit=2}}<li><a href="{{.url}}">{{.name}}'
    . '</a></li>{{/each}}</ul>');
$t->write_file('blocks/ids.html', '{{#each recent:viewed}}[{{.}}]{{/each}}');

$t->run(<<'EOF');
http {
    personalize_store %%DIR%%/store;
    personalize_zone rt:1m expire=30m key=$cookie_uid;

    personalize_rule seen-again { slot again; when counter viewed >= 2;
                                  block blocks/again.html; }
    personalize_rule seen-ids { slot ids; block blocks/ids.html; }

    server {
        listen 127.0.0.1:%%PORT%%;

        location ~ ^/product/(?<product>[a-z0-9-]+)$ {
            personalize_event viewed push=$product keep=5;
            return 200 "product $product\n";
        }

        location /page {
            return 200 "$personalize_block_again|$personalize_block_ids";
        }
    }
}
EOF

sub page { $t->get('/page', Cookie => 'uid=a')->{body} }

is(page(), '|', 'nothing viewed: no block, empty loop');

$t->get('/product/p1', Cookie => 'uid=a');
is(page(), '|[p1]', 'one view: below the counter threshold, loop has one');

$t->get('/product/zz', Cookie => 'uid=a');
$t->get('/product/p2', Cookie => 'uid=a');
is(page(), '<ul><li><a href="/product/p2">Socks &lt;3</a></li>'
           . '<li><a href="/product/p1">Boots</a></li></ul>|[p2][zz][p1]',
   'most recent first, unknown product skipped in the catalog loop, limit');

is($t->get('/page', Cookie => 'uid=b')->{body}, '|',
   'another visitor has no recent values');

$t->stop;

done_testing;
