// round_half_away (sim/base/round.h) against std::llround: halves, the doubles next to them, large and
// negative values, and random doubles over the ranges a Tick takes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "sim/base/round.h"

using xpu::round_half_away;

TEST(RoundHalfAway, EqualsLlroundEverywhereItIsUsed) {
  std::vector<double> xs = {0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994,
                            4503599627370495.5, 4503599627370496.0, 9007199254740993.0, 1e18, -1e18, 123456.5};
  for (double h = 0.5; h < 1e15; h = h * 3 + 0.5) {  // halves and their neighbours
    xs.push_back(h);
    xs.push_back(std::nextafter(h, 0.0));
    xs.push_back(std::nextafter(h, 1e300));
    xs.push_back(-h);
  }
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> mag(-18, 18);
  for (int i = 0; i < 200000; ++i) xs.push_back((i % 2 ? -1 : 1) * std::pow(10.0, mag(rng)));
  for (double x : xs) EXPECT_EQ(round_half_away(x), std::llround(x)) << x;
}
