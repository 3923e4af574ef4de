# summary.pl FILE: per first word, the lines' lengths and their other words;
# prints the 100 busiest groups (bench/programs/perl.def).
use strict;
use warnings;
my (%groups, %lens);
open(my $fh, '<', $ARGV[0]) or die "$ARGV[0]: $!";
while (my $line = <$fh>) {
    chomp $line;
    my ($head, @rest) = split / /, $line;
    push @{$groups{$head}}, @rest;
    push @{$lens{$head}}, length $line;
}
close $fh;
my @order = sort { scalar(@{$groups{$b}}) <=> scalar(@{$groups{$a}}) or $a cmp $b } keys %groups;
printf "%d groups\n", scalar @order;
for my $g (@order[0 .. 99]) {
    my %seen;
    $seen{$_}++ for @{$groups{$g}};
    my @common = (sort { $seen{$b} <=> $seen{$a} or $a cmp $b } keys %seen)[0 .. 4];
    my $total = 0;
    $total += $_ for @{$lens{$g}};
    print join(" ", $g, scalar @{$lens{$g}}, $total, @common), "\n";
}
