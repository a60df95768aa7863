#!/usr/bin/perl

# personalize_types: text/html by default; other types pass untouched
# unless listed; "*" takes every type.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

my $page = 'a<!-- personalize:s -->b<!-- /personalize:s -->c';

$t->write_file("html/p.$_", $page) for qw(html txt json);

$t->run(<<'EOF');
http {
    types {
        text/html html;
        text/plain txt;
        application/json json;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        personalize on;

        location / {
            root %%DIR%%/html;
        }

        location /plain/ {
            alias %%DIR%%/html/;
            personalize_types text/plain;
        }

        location /all/ {
            alias %%DIR%%/html/;
            personalize_types *;
        }
    }
}
EOF

is($t->get('/p.html')->{body}, 'abc', 'text/html processed by default');
is($t->get('/p.txt')->{body}, $page, 'text/plain untouched by default');
is($t->get('/p.json')->{body}, $page, 'application/json untouched');
ok(!exists $t->get('/p.txt')->{headers}{'cache-control'},
   'untouched type: headers untouched');

is($t->get('/plain/p.txt')->{body}, 'abc', 'listed text/plain processed');
is($t->get('/plain/p.html')->{body}, 'abc', 'text/html is always in the list');
is($t->get('/plain/p.json')->{body}, $page, 'unlisted type untouched');

is($t->get('/all/p.json')->{body}, 'abc', '"*" takes every type');

$t->stop;

done_testing;
