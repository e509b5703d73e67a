"""Published data sets the analysis tests reproduce (numbers as printed in their sources)."""

# R datasets::npk (Yates' 2^3 factorial in 6 blocks, N:P:K confounded with blocks):
# block, N, P, K, yield (pounds per plot)
NPK = """\
1 0 1 1 49.5
1 1 1 0 62.8
1 0 0 0 46.8
1 1 0 1 57.0
2 1 0 0 59.8
2 1 1 1 58.5
2 0 0 1 55.5
2 0 1 0 56.0
3 0 1 0 62.8
3 1 1 1 55.8
3 1 0 0 69.5
3 0 0 1 55.0
4 1 0 0 62.0
4 1 1 1 48.8
4 0 0 1 45.5
4 0 1 0 44.2
5 1 1 0 52.0
5 0 0 0 51.5
5 1 0 1 49.8
5 0 1 1 48.8
6 1 0 1 57.2
6 1 1 0 59.0
6 0 1 1 53.2
6 0 0 0 56.0"""

# MASS::oats (Yates 1935): split-plot, variety on main plots, nitrogen (0, 0.2, 0.4, 0.6
# cwt/acre) on sub plots, 6 blocks; yield in 1/4 lb per sub-plot.
OATS = {
    "I": {
        "Victory": (111, 130, 157, 174),
        "Golden": (117, 114, 161, 141),
        "Marvellous": (105, 140, 118, 156),
    },
    "II": {
        "Victory": (61, 91, 97, 100),
        "Golden": (70, 108, 126, 149),
        "Marvellous": (96, 124, 121, 144),
    },
    "III": {
        "Victory": (68, 64, 112, 86),
        "Golden": (60, 102, 89, 96),
        "Marvellous": (89, 129, 132, 124),
    },
    "IV": {
        "Victory": (74, 89, 81, 122),
        "Golden": (64, 103, 132, 133),
        "Marvellous": (70, 89, 104, 117),
    },
    "V": {
        "Victory": (62, 90, 100, 116),
        "Golden": (80, 82, 94, 126),
        "Marvellous": (63, 70, 109, 99),
    },
    "VI": {
        "Victory": (53, 74, 118, 113),
        "Golden": (89, 82, 86, 104),
        "Marvellous": (97, 99, 119, 121),
    },
}
OATS_NITROGEN = ("0.0cwt", "0.2cwt", "0.4cwt", "0.6cwt")

# R datasets::warpbreaks: breaks per loom, 9 looms per wool x tension cell
WARPBREAKS = {
    ("A", "L"): (26, 30, 54, 25, 70, 52, 51, 26, 67),
    ("A", "M"): (18, 21, 29, 17, 12, 18, 35, 30, 36),
    ("A", "H"): (36, 21, 24, 18, 10, 43, 28, 15, 26),
    ("B", "L"): (27, 14, 29, 19, 29, 31, 41, 20, 44),
    ("B", "M"): (42, 26, 19, 16, 39, 28, 21, 39, 29),
    ("B", "H"): (20, 21, 24, 17, 13, 15, 15, 16, 28),
}

# agricolae::sweetpotato: CRD, 3 plots per virus treatment, yield in kg per plot
SWEETPOTATO = {
    "cc": (28.5, 21.7, 23.0),
    "fc": (14.9, 10.6, 13.1),
    "ff": (41.8, 39.2, 28.0),
    "oo": (38.2, 40.4, 32.1),
}
