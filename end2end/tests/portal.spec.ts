import { expect, test } from "@playwright/test";
import { credential, failOnConsoleErrors, hydrated, screenshot, SignInPage, signInAs } from "./support";

/** Σ of a CSV's `cost` column (the explorer's stable columns; no quoted commas in costs). */
function csvCost(csv: string): { sum: number; rows: number } {
  const lines = csv.trim().split(/\r?\n/);
  const header = lines[0].split(",");
  expect(header).toEqual([
    "day", "service", "meter_id", "meter_name", "unit", "subscription_id", "subscription_name",
    "resource_group", "resource", "quantity", "cost", "currency", "unpriced",
  ]);
  // The cost is the third field from the end of every line, whatever the names contain.
  const sum = lines.slice(1).reduce((acc, line) => acc + Number(line.split(",").slice(-3)[0]), 0);
  return { sum: Math.round(sum * 100) / 100, rows: lines.length - 1 };
}

function lastMonth(): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
}

test.describe("the customer portal: usage and cost", () => {
  failOnConsoleErrors();

  test("a customer reads last month's charts and explorer, filters it and downloads exactly that as CSV", async ({ page }) => {
    await signInAs(page, "customer");
    await page.locator("nav.mainnav a", { hasText: "Usage and cost" }).click();
    await expect(page).toHaveURL(/\/portal\/usage$/);
    // Last month: closed, so its total is what its invoice charges.
    const month = lastMonth();
    await page.getByLabel("From month").fill(month);
    await page.getByLabel("To month").fill(month);
    await page.getByTestId("usage-months").getByRole("button").click();
    await expect(page).toHaveURL(new RegExp(`from=${month}`));
    await hydrated(page);
    // A chart drawn on the server, its bars titled with their values, its data as a table.
    const chart = page.getByTestId("chart-daily-cost");
    await expect(chart.locator("svg rect.chart-bar").first()).toBeVisible();
    await expect(chart.locator("svg rect.chart-bar title").first()).toContainText("USD");
    await chart.getByText("Table view").click();
    await expect(chart.locator("table tbody tr").first()).toBeVisible();
    await expect(page.getByTestId("chart-by-meter").locator("li").first()).toBeVisible();
    await screenshot(page, "portal-usage-charts");

    // The explorer's total is the month's cost from the API, to the cent.
    const csvHref = (await page.getByTestId("usage-csv").getAttribute("href"))!;
    const customerId = csvHref.match(/customers\/(\d+)\//)![1];
    const cost = await (await page.request.get(`/api/v1/customers/${customerId}/cost?period=${month}`)).json();
    const total = Number(cost.total);
    expect(total).toBeGreaterThan(0);
    const summary = page.getByTestId("usage-summary");
    await expect(summary).toContainText(`USD\u00a0${total.toLocaleString("en-US", { minimumFractionDigits: 2 })}`);
    const all = csvCost(await (await page.request.get(csvHref)).text());
    expect(all.sum).toBe(total);

    // Filter: one service, grouped by resource group and meter.
    const service = await page.locator("#service option").nth(1).getAttribute("value");
    await page.locator("#service").selectOption(service!);
    await page.locator("#group-day").uncheck();
    await page.locator("#group-subscription").uncheck();
    await page.locator("#group-resource_group").check();
    await page.getByTestId("usage-apply").click();
    await expect(page).toHaveURL(/service=/);
    const rows = page.getByTestId("usage-table").locator("tbody tr");
    await expect(rows.first()).toBeVisible();
    await screenshot(page, "portal-usage-explorer");
    const filteredHref = (await page.getByTestId("usage-csv").getAttribute("href"))!;
    expect(filteredHref).toContain("service=");
    const filtered = csvCost(await (await page.request.get(filteredHref)).text());
    expect(filtered.rows).toBe(await rows.count());
    expect(filtered.sum).toBeLessThanOrEqual(total);
    const api = await (await page.request.get(filteredHref.replace("usage.csv", "usage"))).json();
    expect(Number(api.totals[0].cost)).toBe(filtered.sum);

    // A tag: the daily CSV and the hourly CSV (one row per record, each carrying the tag)
    // select the same money.
    await page.locator("#service").selectOption("");
    await page.locator("#tag").fill("env:test");
    await page.getByTestId("usage-apply").click();
    await expect(page).toHaveURL(/tag=env%3Atest/);
    const taggedHref = (await page.getByTestId("usage-csv").getAttribute("href"))!;
    const hourlyHref = (await page.getByTestId("usage-hourly-csv").getAttribute("href"))!;
    expect(hourlyHref).toContain("granularity=hourly");
    expect(hourlyHref).toContain("tag=env%3Atest");
    const tagged = csvCost(await (await page.request.get(taggedHref)).text());
    const hourly = (await (await page.request.get(hourlyHref)).text()).trim().split(/\r?\n/);
    expect(hourly[0]).toBe(
      "usage_start,usage_end,service,meter_id,meter_name,unit,subscription_id,subscription_name,resource_group,resource,tags,quantity,cost,currency,unpriced",
    );
    expect(hourly.length).toBeGreaterThan(tagged.rows);
    expect(hourly.slice(1).every((line) => line.includes('""env"":""test""'))).toBe(true);
    const hourlySum = hourly.slice(1).reduce((acc, line) => acc + Number(line.split(",").slice(-3)[0]), 0);
    expect(Math.round(hourlySum * 100) / 100).toBe(tagged.sum);
    expect(tagged.sum).toBeGreaterThan(0);

    // Sorting by cost, largest first.
    await page.getByTestId("usage-table").getByRole("link", { name: "Cost" }).click();
    await expect(page).toHaveURL(/sort=cost/);
  });

  test("an operator views a customer's portal as that customer, with a banner, and it is audited", async ({ page }) => {
    const customer = credential("customer").customer!;
    await signInAs(page, "operator");
    await page.goto("/operator/customers");
    await page.getByTestId("customer-link").filter({ hasText: customer }).first().click();
    await page.getByTestId("view-as-customer").click();
    await expect(page).toHaveURL(/\/portal\?customer=\d+$/);
    await expect(page.getByTestId("view-as-banner")).toBeVisible();
    await expect(page.getByTestId("customer-name")).toHaveText(customer);
    await page.getByTestId("portal-tab-usage").click();
    await expect(page).toHaveURL(/\/portal\/usage\?customer=\d+$/);
    await expect(page.getByTestId("view-as-banner")).toBeVisible();
    await expect(page.getByTestId("usage-months-shown")).toContainText(customer);
    await expect(page.getByTestId("chart-daily-cost")).toBeVisible();
    await screenshot(page, "portal-view-as");
    const audit = await (await page.request.get("/api/v1/audit?action=portal.viewed_as_customer")).json();
    expect(audit.value.length).toBeGreaterThan(0);
  });

  for (const [locale, usageTitle, tableView, money] of [
    ["zh-TW", "用量與費用", "表格檢視", /USD\u00a0[\d,]+\.\d\d/],
    ["fr", "Consommation et coûts", "Vue en tableau", /[\d\u202f\u00a0]+,\d\d\u00a0USD/],
  ] as const) {
    test(`the portal in ${locale}: labels, money and dates in the customer's language`, async ({ page }) => {
      // An operator adds a user of the demo customer who reads ${locale}.
      const customer = credential("customer").customer!;
      await signInAs(page, "operator");
      await page.goto("/operator/customers");
      await page.getByTestId("customer-link").filter({ hasText: customer }).first().click();
      const viewAs = (await page.getByTestId("view-as-customer").getAttribute("href"))!;
      const customerId = Number(viewAs.match(/customer=(\d+)/)![1]);
      const email = `${locale.toLowerCase()}-${Date.now()}@portal.test`;
      const password = "a long enough password for the portal journey";
      const created = await page.request.post("/api/v1/users", {
        data: { email, display_name: `Reader ${locale}`, role: "customer", customer: String(customerId), password, locale },
        // A browser session's writes must come from Stackbill's own origin.
        headers: { origin: new URL(page.url()).origin },
      });
      expect(created.status(), await created.text()).toBe(201);
      await page.getByTestId("sign-out").click();
      const form = new SignInPage(page);
      await form.open();
      await form.signIn(email, password);
      await expect(page).toHaveURL(/\/portal$/);
      await expect(page.getByTestId("portal-cost")).toContainText(money);
      await screenshot(page, `portal-overview-${locale}`);
      await page.locator("nav.mainnav a").nth(1).click();
      await expect(page.locator("h1")).toHaveText(usageTitle);
      await expect(page.getByTestId("chart-daily-cost").getByText(tableView)).toBeVisible();
      await expect(page.getByTestId("usage-summary")).toContainText(money);
      await hydrated(page);
      await screenshot(page, `portal-usage-${locale}`);
    });
  }
});
