#!/usr/bin/perl

# The examples in docs/rules.md stay true: every code block that declares
# rules or experiments passes "nginx -t", and the template example renders.

use strict;
use warnings;

use Test::More;

use lib 't/lib';
use PzTest;

my $t = PzTest->new;

my $doc = $t->read_file($t->top . '/docs/rules.md');
ok(length $doc, 'docs/rules.md read');

# indented code blocks
my @blocks;
my $cur;
for my $line (split /\n/, $doc) {
    if ($line =~ /^    (.*)$/) {
        $cur .= "$1\n";
        next;
    }
    next if defined $cur && $line eq '';
    push @blocks, $cur if defined $cur;
    undef $cur;
}
push @blocks, $cur if defined $cur;

my @rules = grep { /^\s*personalize_(rule|experiment)\b/m } @blocks;
cmp_ok(scalar @rules, '>=', 3, 'docs hold rule examples');

# every template a rule names exists, with harmless content
my ($tpl) = grep { /\{\{#each/ } @blocks;
ok($tpl, 'docs hold a template example');

for my $b (@rules) {
    for my $f ($b =~ /(?:block|prompt)\s+(\S+);/g) {
        $t->write_file($f, "<p>{{first_name}}</p>\n");
    }
}

$t->write_file('blocks/example.html', $tpl);

my $i = 0;
for my $b (@rules) {
    $i++;
    my ($first) = $b =~ /personalize_\w+ ([\w-]+)/;

    my $exp = $b =~ /variant hero-test/ && $b !~ /personalize_experiment/
            ? "personalize_experiment hero-test { variant a 45%; "
              . "variant b 45%; holdout 10%; }\n"
            : '';

    my ($ok, $out) = $t->nginx_t(<<"EOF");
http {
$exp$b
    personalize_rule docs-template { slot docs; block blocks/example.html; }
    personalize_zone rt:1m;
    server {
        listen 127.0.0.1:%%PORT%%;
        location /search { personalize_event failed_searches; }
    }
}
EOF
    ok($ok, "docs example $i ($first) passes nginx -t") or diag("$b\n$out");
}

done_testing;
