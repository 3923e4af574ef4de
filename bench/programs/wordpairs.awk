# wordpairs.awk: counts words and adjacent word pairs; prints the 200 most
# frequent of each, ties broken by the text (bench/programs/gawk.def).
{
    for (i = 1; i <= NF; i++) {
        words[$i]++
        if (i > 1)
            pairs[$(i - 1) " " $i]++
    }
}
function top(arr, n,    k, keys, m, i) {
    m = 0
    for (k in arr)
        keys[++m] = sprintf("%09d %s", 999999999 - arr[k], k)
    asort(keys)
    for (i = 1; i <= n && i <= m; i++)
        print keys[i]
}
END {
    print length(words), length(pairs)
    top(words, 200)
    top(pairs, 200)
}
