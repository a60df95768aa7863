#!/usr/bin/perl

# Login ids from a trusted variable, the order of identity sources, and
# inheritance and "personalize_identity off" across levels.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

$t->write_file('html/index.html', "page\n");

$t->run(<<'EOF');
http {
    # the login id is trusted only from the auth subrequest, never from
    # the client: this is what an operator does with auth_request
    personalize_identity login $auth_customer;
    personalize_identity cookie $cookie_vid;

    server {
        listen 127.0.0.1:%%PORT%%;

        # "return" runs before the access phase: a static file here
        location / {
            auth_request /auth;
            auth_request_set $auth_customer $upstream_http_x_customer;
            root %%DIR%%/html;
            add_header X-Id "[$personalize_id|$personalize_id_source]";
        }

        location = /auth {
            internal;
            proxy_pass http://127.0.0.1:%%PORT%%/session;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }

        location = /session {
            add_header X-Customer $cookie_session;
            return 204;
        }

        location /header {
            personalize_identity login $http_x_login;
            personalize_identity cookie $cookie_vid;
            return 200 "[$personalize_id|$personalize_id_source]";
        }

        location /cookie-first {
            personalize_identity cookie $cookie_vid;
            personalize_identity login $http_x_login;
            return 200 "[$personalize_id|$personalize_id_source]";
        }

        location /off {
            personalize_identity off;
            return 200 "[$personalize_id|$personalize_id_source]";
        }

        location /inherit {
            return 200 "[$personalize_id|$personalize_id_source]";
        }
    }
}
EOF

sub body { my $r = $t->get(@_); $r->{status} == 200 ? $r->{body} : '' }
sub xid { my $r = $t->get(@_); $r->{status} == 200 ? $r->{headers}{'x-id'} : '' }

is(xid('/'), '[|none]', 'no session, no cookie');
is(xid('/', Cookie => 'session=cust-42'), '[cust-42|login]',
   'login id from auth_request');
is(xid('/', Cookie => 'session=cust-42; vid=v1'), '[cust-42|login]',
   'login wins over the cookie');
is(xid('/', Cookie => 'vid=v1'), '[v1|cookie]',
   'cookie when there is no login');
is(xid('/', Cookie => 'vid=v1', 'X-Customer' => 'spoofed'), '[v1|cookie]',
   'a client-sent X-Customer is not a login');

is(body('/header', 'X-Login' => 'c1'), '[c1|login]', 'login from a header');
is(body('/header', 'X-Login' => 'c1', Cookie => 'vid=v1'), '[c1|login]',
   'declaration order: login first');
is(body('/cookie-first', 'X-Login' => 'c1', Cookie => 'vid=v1'),
   '[v1|cookie]', 'declaration order: cookie first');
is(body('/cookie-first', 'X-Login' => 'c1'), '[c1|login]',
   'the next source when the first yields nothing');
is(body('/header', 'X-Login' => 'bad id', Cookie => 'vid=v1'),
   '[v1|cookie]', 'an invalid login id falls through to the cookie');
is(body('/header', 'X-Login' => 'a@b.example'), '[a@b.example|login]',
   'e-mail-like ids');
is(body('/header', 'X-Login' => "caf\xc3\xa9"), '[|none]',
   'non-ascii id: anonymous');

is(body('/off', Cookie => 'session=cust-42; vid=v1'), '[|none]',
   'personalize_identity off');
is(body('/inherit', Cookie => 'vid=v2'), '[v2|cookie]',
   'sources inherited from the http level');

$t->stop;

done_testing;
