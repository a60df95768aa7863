#!/usr/bin/perl
# Writes the demo profiles with dates relative to now, so that "cart
# abandoned within 2 days" stays true whenever the demo is started:
#   perl gen-profiles.pl profiles.jsonl.in > profiles.jsonl
# "@NOW@", "@NOW-3d@", "@NOW+2h@" become UTC timestamps.

use strict;
use warnings;
use POSIX qw(strftime);

my $now = $ENV{PZ_DEMO_NOW} || time;
my %unit = (s => 1, m => 60, h => 3600, d => 86400);

while (my $line = <>) {
    $line =~ s{\@NOW(?:([-+])(\d+)([smhd]))?\@}{
        my $t = $now;
        $t += ($1 eq '-' ? -1 : 1) * $2 * $unit{$3} if defined $1;
        strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $t);
    }ge;
    print $line;
}
