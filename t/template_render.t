#!/usr/bin/perl

# Template rendering: fields of every type, fallbacks for missing and
# empty fields, loops over list fields with a limit, catalog look-ups
# (items not in the catalog are skipped), and prefill values.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

$t->load_store([
    { id => 'anna', first_name => 'Anna', clv => '1234.5', points => 1200,
      seen => '2026-11-22T10:00:00Z', favourites => ['p1', 'nope', 'p2',
      'p3', 'p4'], sizes => ['S', 'M'], code => 'LOYAL-77', nick => '' },
    { id => 'bare' },
], schema => { segments => 'list', first_name => 'string',
               clv => 'decimal', points => 'int', seen => 'time',
               favourites => 'list', sizes => 'list', code => 'string',
               nick => 'string' },
   catalog => [
    { id => 'p1', name => 'Boots & Co', url => '/p/1', image => '/i/1.jpg',
      price => '59.95' },
    { id => 'p2', name => 'Socks', url => 'javascript:alert(1)',
      image => '/i/2.jpg', price => '4' },
    { id => 'p3', name => 'Scarf', url => '/p/3', image => '/i/3.jpg',
      price => '19.5' },
    { id => 'p4', name => 'Hat', url => '/p/4', image => '/i/4.jpg',
      price => '25' },
]);

$t->write_file('blocks/fields.html',
    "{{first_name}}|{{clv}}|{{points}}|{{seen}}|{{sizes}}|{{ first_name }}");
$t->write_file('blocks/fallback.html',
    "Hi {{first_name|\"there\"}}, {{nick|\"friend\"}}, [{{missing}}], "
    . "{{missing|\"a \\\"quoted\\\" <b>\"}}");
$t->write_file('blocks/loop.html',
    "<ul>{{#each favourites limit=3}}<li><a href=\"{{.url}}\">{{.name}}"
    . "</a> {{.price}} {{.nosuch|\"-\"}}</li>{{/each}}</ul>");
$t->write_file('blocks/ids.html',
    "{{#each favourites}}[{{.}}]{{/each}}|{{#each sizes limit=1}}"
    . "({{.}}){{/each}}|{{#each nothing}}x{{/each}}");

my $rules = '';
for my $k (qw(fields fallback loop ids)) {
    $rules .= "    personalize_rule $k { slot $k; when source login; "
            . "block blocks/$k.html; }\n";
}

$t->run(<<"EOF");
http {
    personalize_store %%DIR%%/store;
    personalize_identity login \$http_x_login;
    personalize_max_blocks 10;

$rules
    personalize_rule coupon { when field code exists;
                              prefill coupon "{{code}}"; }
    personalize_rule coupon-low { when source login; priority 0;
                                  prefill coupon WELCOME; }
    personalize_rule news { when source login;
                            prefill email "{{nick}}" overwrite; }

    server {
        listen 127.0.0.1:%%PORT%%;

        location /b/ {
            return 200 "\$personalize_block_fields~~\$personalize_block_fallback~~\$personalize_block_loop~~\$personalize_block_ids";
        }

        location /p {
            return 200 "\$personalize_prefill_coupon~~\$personalize_prefill_email~~\$personalize_prefills";
        }
    }
}
EOF

my ($fields, $fallback, $loop, $ids) =
    split /~~/, $t->get('/b/', 'X-Login' => 'anna')->{body}, -1;

is($fields, 'Anna|1234.5|1200|2026-11-22T10:00:00Z|S, M|Anna',
   'string, decimal, int, time and list fields');
is($fallback, 'Hi Anna, friend, [], a &quot;quoted&quot; &lt;b&gt;',
   'fallbacks: present, empty, missing without and with (escaped) fallback');
is($loop, '<ul><li><a href="/p/1">Boots &amp; Co</a> 59.95 -</li>'
          . '<li><a href="#">Socks</a> 4 -</li>'
          . '<li><a href="/p/3">Scarf</a> 19.5 -</li></ul>',
   'loop: catalog fields, unknown item skipped, limit, unsafe url');
is($ids, '[p1][nope][p2][p3][p4]|(S)|', 'loop over ids without catalog');

my @bare = split /~~/, $t->get('/b/', 'X-Login' => 'bare')->{body}, -1;
is($bare[0], '|||||', 'missing fields render empty');
is($bare[1], 'Hi there, friend, [], a &quot;quoted&quot; &lt;b&gt;',
   'fallbacks for a bare profile');
is($bare[2], '<ul></ul>', 'loop over a missing list');

my ($coupon, $email, $list) =
    split /~~/, $t->get('/p', 'X-Login' => 'anna')->{body}, -1;
is($coupon, 'LOYAL-77', 'prefill value from a field, higher priority wins');
is($email, '', 'prefill that renders empty does nothing');
is($list, 'coupon=coupon', '$personalize_prefills');

($coupon) = split /~~/, $t->get('/p', 'X-Login' => 'bare')->{body}, -1;
is($coupon, 'WELCOME', 'prefill with a literal value');

$t->stop;

done_testing;
