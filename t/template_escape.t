#!/usr/bin/perl

# Templates escape every profile value for where it stands: HTML text,
# quoted attribute, URL attribute (start and rest) and a string inside
# <script>.  XSS payloads in profile fields come out inert, and decoding
# the output gives back the value the profile holds.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

plan skip_all => 'pz-load not built' unless $t->has_tool('pz-load');

my @payloads = (
    '<script>alert(1)</script>',
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
    '</script><script>alert(1)</script>',
    "line\x{2028}sep\x{2029}end",
    "back\\slash \"dq\" `tick` \${x} &amp; <!-- -->",
    'javascript:alert(1)',
    " JaVa\tScRiPt:alert(1)",
    'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
    'vbscript:msgbox(1)',
    'https://shop.example/p?a=1&b="2"',
    '/relative/path?x=<y>',
    '@evil.example\\x.js',
);

my @profiles;

for my $i (0 .. $#payloads) {
    push @profiles, { id => "v$i", name => $payloads[$i],
                      url => $payloads[$i] };
}

$t->load_store(\@profiles, schema => { segments => 'list', name => 'string',
                                      url => 'string' });

my %tpl = (
    text   => "<p>{{name}}</p>",
    attr   => "<p title=\"{{name}}\">x</p>",
    sattr  => "<p title='{{name}}'>x</p>",
    url    => "<a href=\"{{url}}\">x</a>",
    rest   => "<a href=\"/p/{{name}}\">x</a>",
    script => "<script>var n = \"{{name}}\";</script>",
    sqjs   => "<script>var n = '{{name}}';</script>",
);

my $rules = '';
my $loc = '';

for my $k (sort keys %tpl) {
    $t->write_file("blocks/$k.html", $tpl{$k});
    $rules .= "    personalize_rule $k { slot $k; when profile; "
            . "block blocks/$k.html; }\n";
    $loc .= "        location = /$k { return 200 \$personalize_block_$k; }\n";
}

$t->run(<<"EOF");
http {
    personalize_store %%DIR%%/store;
    personalize_identity login \$http_x_login;
    personalize_max_blocks 10;

$rules
    server {
        listen 127.0.0.1:%%PORT%%;
        charset utf-8;
$loc
    }
}
EOF

sub html_decode {
    my ($s) = @_;
    $s =~ s/&#x([0-9a-f]+);/chr hex $1/gei;
    $s =~ s/&#(\d+);/chr $1/ge;
    $s =~ s/&lt;/</g;
    $s =~ s/&gt;/>/g;
    $s =~ s/&quot;/"/g;
    $s =~ s/&amp;/&/g;
    return $s;
}

# the part of the output that stands for the placeholder
sub hole {
    my ($k, $body) = @_;
    my ($pre, $post) = split /\{\{\w+\}\}/, $tpl{$k}, 2;
    return undef unless substr($body, 0, length $pre) eq $pre
                     && substr($body, -length $post) eq $post;
    return substr($body, length $pre, length($body) - length($pre)
                                      - length($post));
}

for my $i (0 .. $#payloads) {
    my $p = $payloads[$i];
    my %out;

    for my $k (sort keys %tpl) {
        my $r = $t->get("/$k", 'X-Login' => "v$i");
        my $body = $r->{body};
        utf8::decode($body);
        $out{$k} = hole($k, $body);
        ok(defined $out{$k}, "payload $i $k: template text intact")
            or diag($body);
        $out{$k} //= '';
    }

    for my $k (qw(text attr sattr)) {
        unlike($out{$k}, qr/[<>"']/, "payload $i $k: no markup characters");
        is(html_decode($out{$k}), $p, "payload $i $k: decodes to the value");
    }

    unlike($out{rest}, qr/[<>"':\@\\]/, "payload $i url rest: inert");
    my $rest = html_decode($out{rest});
    $rest =~ s/%3A/:/g;
    $rest =~ s/%40/@/g;
    $rest =~ s/%5C/\\/g;
    is($rest, $p, "payload $i url rest: decodes to the value");

    my $safe = $p =~ /^[\x00-\x20]*(https?:|[^:]*([\/?#]|$))/i;
    if ($safe) {
        is(html_decode($out{url}), $p, "payload $i url: kept");
    } else {
        is($out{url}, '#', "payload $i url: unsafe scheme becomes #");
    }

    for my $k (qw(script sqjs)) {
        unlike($out{$k}, qr/[<>"'`\n\x{2028}\x{2029}]/,
               "payload $i $k: cannot leave the string");
        unlike($out{$k}, qr/<\/script/i, "payload $i $k: no </script>");
        my $v = eval { JSON::PP->new->allow_nonref->decode("\"$out{$k}\"") };
        is($v, $p, "payload $i $k: a JSON string of the value");
    }
}

$t->stop;

done_testing;
