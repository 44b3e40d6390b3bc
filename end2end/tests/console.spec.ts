import { expect, test } from "@playwright/test";
import { credential, failOnConsoleErrors, hydrated, screenshot, SignInPage, signInAs } from "./support";

/** A random GUID (the journeys create their own customer, so they can run again). */
function guid(): string {
  return "xxxxxxxx-xxxx-4xxx-8xxx-xxxxxxxxxxxx".replace(/x/g, () => Math.floor(Math.random() * 16).toString(16));
}

/** A UTC day as YYYY-MM-DD. */
function utcDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}

test.describe("the operator console: customers and mappings", () => {
  failOnConsoleErrors();

  test("create a customer, map its tenant, re-map it from a later day, see the badge, the history and the API agree", async ({
    page,
  }) => {
    const tenant = guid();
    const first = guid();
    const second = guid();
    const name = `E2E 測試客戶 ${tenant.slice(0, 4)}`;
    const now = new Date();
    const today = utcDay(now);
    const nextMonth = utcDay(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)));

    await signInAs(page, "operator");
    await page.locator("nav.mainnav a", { hasText: "Customers" }).click();
    await expect(page).toHaveURL(/\/operator\/customers$/);
    await expect(page.getByTestId("customers-table")).toContainText("Falls back to base");
    await expect(page.getByTestId("customers-table")).toContainText("Mapped");
    await hydrated(page);
    await screenshot(page, "operator-customers");

    // A bad GUID is refused next to its field; nothing is saved until it is fixed.
    await page.getByTestId("new-customer").click();
    await expect(page).toHaveURL(/\/operator\/customers\/new$/);
    await hydrated(page);
    await page.getByTestId("customer-name").fill(name);
    await page.getByTestId("customer-tenant").fill("not-a-guid");
    await page.getByTestId("customer-save").click();
    await expect(page.getByTestId("error-cloud_tenant_id")).toContainText("is not a directory");
    await screenshot(page, "operator-customer-new-error");
    await page.getByTestId("customer-tenant").fill(tenant.toUpperCase());
    await page.getByTestId("customer-save").click();
    await expect(page).toHaveURL(/\/operator\/customers\/\d+$/);
    await expect(page.getByTestId("customer-title")).toContainText(name);
    await expect(page.getByTestId("customer-tenant-id")).toHaveText(tenant);
    await expect(page.getByTestId("customer-title").getByTestId("badge-base")).toBeVisible();
    await hydrated(page);

    // Map: review what changes, confirm, and the badge changes.
    const mapForm = page.getByTestId("map-form").first();
    await mapForm.getByTestId("map-subscription").fill(first);
    await mapForm.getByTestId("map-review").click();
    await expect(page).toHaveURL(/\/mapping\?/);
    await expect(page.getByTestId("preview-before")).toContainText("Falls back to base");
    await expect(page.getByTestId("preview-after")).toContainText(first);
    await hydrated(page);
    await screenshot(page, "operator-mapping-confirm");
    await page.getByTestId("confirm-mapping").click();
    await expect(page).toHaveURL(/\/operator\/customers\/\d+$/);
    await expect(page.getByTestId("customer-title").getByTestId("badge-mapped")).toBeVisible();
    await expect(page.getByTestId("current-subscription").first()).toHaveText(first);
    let api = await (await page.request.get(`/api/v1/customers?q=${tenant}`)).json();
    expect(api.value[0].mapped_registrations).toBe(1);

    // Re-map from the first day of next month: scheduled, and in the history.
    await hydrated(page);
    await page.getByTestId("map-form").first().getByTestId("map-subscription").fill(second);
    await page.getByTestId("map-form").first().getByTestId("map-day").fill(nextMonth);
    await page.getByTestId("map-form").first().getByTestId("map-review").click();
    await expect(page.getByTestId("preview-before")).toContainText(first);
    await expect(page.getByTestId("preview-after")).toContainText(second);
    await page.getByTestId("confirm-mapping").click();
    await expect(page).toHaveURL(/\/operator\/customers\/\d+$/);
    await expect(page.getByTestId("mappings-table")).toContainText(second);
    await expect(page.getByTestId("history-table").locator("tbody tr")).toHaveCount(2);
    await expect(page.getByTestId("intervals-table").locator("tbody tr")).toHaveCount(2);
    await screenshot(page, "operator-customer-mapped");
    const history = await (await page.request.get(`/api/v1/mappings/${tenant}/history`)).json();
    expect(history.value.map((h: { subscription: string; effective_on: string }) => [h.subscription, h.effective_on])).toEqual([
      [second, nextMonth],
      [first, today],
    ]);

    // Unmap from today (it replaces today's mapping) so the demo's figures stay as they were.
    await hydrated(page);
    await page.getByTestId("unmap-form").first().getByTestId("unmap-review").click();
    await expect(page.getByTestId("preview-after")).toContainText("Falls back to base");
    await page.getByTestId("confirm-mapping").click();
    await expect(page).toHaveURL(/\/operator\/customers\/\d+$/);
    await expect(page.getByTestId("customer-title").getByTestId("badge-base")).toBeVisible();
    api = await (await page.request.get(`/api/v1/customers?q=${tenant}`)).json();
    expect(api.value[0].mapped_registrations).toBe(0);
  });

  test("assign the unassigned subscription to a customer, then read every change in the audit log", async ({ page }) => {
    await signInAs(page, "operator");
    const base = await (await page.request.get("/api/v1/customers?billed_to=base&limit=1")).json();
    const tenant: string = base.value[0].cloud_tenant_id;
    await page.locator("nav.mainnav a", { hasText: "User subscriptions" }).click();
    await expect(page.getByTestId("user-subscriptions-table")).toBeVisible();
    await page.getByRole("link", { name: "Unassigned" }).click();
    await expect(page).toHaveURL(/status=unassigned/);
    const table = page.getByTestId("user-subscriptions-table");
    await expect(table.locator("tbody tr")).toHaveCount(1);
    // What it adds to the base this month, from the rating service.
    await expect(table.locator("tbody tr").first()).toContainText(/USD\u00a0\d[\d,]*\.\d\d/);
    await hydrated(page);
    await screenshot(page, "operator-unassigned");
    const queued = await (await page.request.get("/api/v1/user-subscriptions?status=unassigned")).json();
    const subscription: string = queued.value[0].subscription_id;

    await page.getByTestId("pick").first().check();
    await page.getByTestId("assign-tenant").fill(tenant);
    await page.getByTestId("assign-submit").click();
    await expect(page.getByTestId("user-subscriptions-table")).toContainText("No user subscription matches.");
    const after = await (await page.request.get("/api/v1/user-subscriptions?status=unassigned")).json();
    expect(after.total).toBe(0);
    const owned = await (await page.request.get(`/api/v1/user-subscriptions?q=${subscription}`)).json();
    expect(owned.value[0].owner_tenant).toBe(tenant);

    // The audit log: the console's changes with who, what and before → after.
    await page.locator("nav.mainnav a", { hasText: "Audit log" }).click();
    await page.getByLabel("Action").fill("user_subscription");
    await page.getByRole("button", { name: "Show" }).click();
    await expect(page.getByTestId("audit-table")).toContainText("user_subscription.owner_assigned");
    await expect(page.getByTestId("audit-table")).toContainText(tenant);
    await page.getByLabel("Action").fill("mapping");
    await page.getByRole("button", { name: "Show" }).click();
    await expect(page.getByTestId("audit-table")).toContainText("mapping.set");
    await expect(page.getByTestId("audit-table")).toContainText("mapping.removed");
    await hydrated(page);
    await screenshot(page, "operator-audit");
    const csv = await (await page.request.get("/api/v1/audit?action=customer&format=csv")).text();
    expect(csv.split("\n")[0]).toBe("id,occurred_at,actor,actor_label,action,subject,before,after,details,client_addr");
    expect(csv).toContain("E2E 測試客戶");
  });

  test("import mappings from CSV: a bad row is named, the fixed file is previewed, then applied", async ({ page }) => {
    const tenant = guid();
    const subscription = guid();
    const header = "cloud_tenant_id,customer,registration,customer_subscription_id,effective_on";
    await signInAs(page, "operator");
    await page.goto("/operator/mappings");
    await expect(page.getByTestId("registration-mappings-table")).toContainText("azs-northwest");
    await hydrated(page);
    await page.getByTestId("import-csv").fill(`${header}\n${tenant},,azs-northwest,${subscription},\nnot-a-guid,,azs-northwest,${guid()},\n`);
    await page.getByTestId("import-preview").click();
    await expect(page.getByTestId("import-refused")).toContainText("nothing was changed");
    await expect(page.getByTestId("import-errors")).toContainText("cloud_tenant_id");
    await expect(page.getByTestId("import-errors").locator("tbody tr").first()).toContainText("3");
    await screenshot(page, "operator-mapping-import-error");
    await page.getByTestId("import-csv").fill(`${header}\n${tenant},,azs-northwest,${subscription},\n`);
    await page.getByTestId("import-preview").click();
    await expect(page.getByTestId("import-status")).toContainText("Preview");
    await expect(page.getByTestId("import-rows")).toContainText(subscription);
    let history = await (await page.request.get(`/api/v1/mappings/${tenant}/history`)).json();
    expect(history.value).toEqual([]);
    await page.getByTestId("import-apply").click();
    await expect(page.getByTestId("import-status")).toContainText("Applied");
    history = await (await page.request.get(`/api/v1/mappings/${tenant}/history`)).json();
    expect(history.value.map((h: { subscription: string; source: string }) => [h.subscription, h.source])).toEqual([
      [subscription, "csv"],
    ]);
    await screenshot(page, "operator-mapping-import");
  });

  test("upload a price-sheet CSV: the bad row is named, the fixed file is previewed against last month, saved, and audited", async ({
    page,
  }) => {
    const baseVm = "fab6eb84-500b-4a09-a8ca-7358f8bbaea5";
    const now = new Date();
    const nextMonth = utcDay(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)));
    await signInAs(page, "operator");
    await page.locator("nav.mainnav a", { hasText: "Price sheets" }).click();
    await expect(page).toHaveURL(/\/operator\/price-sheets$/);
    await expect(page.getByTestId("price-sheets-list")).toContainText("Azure Stack Hub list prices (USD)");
    await screenshot(page, "operator-price-sheets");
    await page.getByTestId("price-sheet-link").filter({ hasText: "Azure Stack Hub list prices (USD)" }).click();
    await expect(page).toHaveURL(/\/operator\/price-sheets\/\d+$/);
    const sheetId = page.url().split("/").pop();
    await expect(page.getByTestId("entries-table")).toContainText("Base VM Size Hours");
    await expect(page.getByTestId("sheet-uses")).toContainText("azs-northwest");
    await hydrated(page);
    await screenshot(page, "operator-price-sheet");

    // Start from the version in effect, downloaded as the CSV the upload takes.
    const csvHref = await page.getByTestId("version-csv").first().getAttribute("href");
    const current = await (await page.request.get(csvHref!)).text();
    expect(current.split("\n")[0]).toBe(
      "meter_id,meter_name,model,tier_from,unit_price,billing_unit,usage_units_per_billing_unit,per_period_hours,package_size",
    );
    const lines = current.trim().split("\n");
    const vmRow = lines.findIndex((l) => l.startsWith(`${baseVm},`));
    expect(vmRow).toBeGreaterThan(0);
    const withPrice = (price: string) =>
      lines.map((l, i) => (i === vmRow ? l.replace(/,per_unit,,[^,]*,/, `,per_unit,,${price},`) : l)).join("\n");

    // A negative price: refused with its row and column, nothing saved.
    await page.getByTestId("price-csv").fill(withPrice("-0.01"));
    await page.getByTestId("price-day").fill(nextMonth);
    await page.getByTestId("price-check").click();
    await expect(page.getByTestId("price-refused")).toContainText("nothing was changed");
    await expect(page.getByTestId("price-errors")).toContainText("unit_price");
    await expect(page.getByTestId("price-errors").locator("tbody tr").first()).toContainText(String(vmRow + 1));
    await screenshot(page, "operator-price-upload-error");

    // Fixed: the preview rates last month under the draft, per customer.
    await page.getByTestId("price-csv").fill(withPrice("0.016"));
    await page.getByTestId("price-check").click();
    await expect(page.getByTestId("price-upload-status")).toContainText("Nothing is saved yet");
    await expect(page.getByTestId("preview-table").locator("tbody tr").first()).toContainText("+");
    await screenshot(page, "operator-price-preview");
    const before = (await (await page.request.get(`/api/v1/price-sheets/${sheetId}/versions`)).json()).value;

    // Saved: the version from next month is listed, on the page and in the API.
    await page.getByTestId("price-save").click();
    await expect(page.getByTestId("price-upload-status")).toContainText("Saved");
    const versions = (await (await page.request.get(`/api/v1/price-sheets/${sheetId}/versions`)).json()).value;
    const saved = versions.find((v: { effective_on: string }) => v.effective_on === nextMonth);
    expect(saved).toBeTruthy();
    // A first run adds a version; a rerun replaces the one starting that day.
    expect(versions.length).toBeGreaterThanOrEqual(before.length);
    await expect(page.getByTestId("versions-table").locator("tbody tr")).toHaveCount(versions.length);
    const savedCsv = await (await page.request.get(`/api/v1/price-sheets/${sheetId}/versions/${saved.id}.csv`)).text();
    expect(savedCsv).toContain(`${baseVm},Base VM Size Hours,per_unit,,0.016,`);
    await screenshot(page, "operator-price-saved");

    // The audit log has the new version.
    await page.locator("nav.mainnav a", { hasText: "Audit log" }).click();
    await page.getByLabel("Action").fill("price_sheet");
    await page.getByRole("button", { name: "Show" }).click();
    await expect(page.getByTestId("audit-table")).toContainText("price_sheet.version_added");
  });

  test("create an API token, see it once, use it, revoke it", async ({ page }) => {
    const name = `e2e token ${guid().slice(0, 6)}`;
    await signInAs(page, "operator");
    await page.locator("nav.mainnav a", { hasText: "Users" }).click();
    await expect(page).toHaveURL(/\/operator\/users$/);
    await expect(page.getByTestId("users-table")).toContainText("operator");
    await hydrated(page);
    await page.getByTestId("add-token-open").click();
    await page.getByTestId("token-name").fill(name);
    await page.locator("#token-role").selectOption("finance");
    await page.getByTestId("add-token").click();
    const secret = (await page.getByTestId("secret").textContent()) ?? "";
    expect(secret.length).toBeGreaterThan(20);
    await expect(page.getByTestId("tokens-table")).toContainText(name);
    await screenshot(page, "operator-users");
    const me = await page.request.get("/api/v1/me", { headers: { Authorization: `Bearer ${secret}` } });
    expect((await me.json()).role).toBe("finance");

    const row = page.getByTestId("tokens-table").locator("tbody tr", { hasText: name });
    await row.getByTestId("token-revoke-open").click();
    await row.getByTestId("token-revoke").click();
    await expect(page.getByTestId("tokens-table").locator("tbody tr", { hasText: name })).toContainText("Revoked");
    const after = await page.request.get("/api/v1/me", { headers: { Authorization: `Bearer ${secret}` } });
    expect(after.status()).toBe(401);
  });

  test("a registration shows its collector and thirty days of records", async ({ page }) => {
    await signInAs(page, "operator");
    await page.getByTestId("registrations-page-link").click();
    await expect(page).toHaveURL(/\/operator\/registrations$/);
    await page.getByTestId("registration-link").first().click();
    await expect(page).toHaveURL(/\/operator\/registrations\/\d+$/);
    await expect(page.getByTestId("collector-panel")).toBeVisible();
    await expect(page.getByTestId("registration-days").locator("tbody tr")).toHaveCount(30);
    await hydrated(page);
    await screenshot(page, "operator-registration");
    const api = await (await page.request.get("/api/v1/registrations")).json();
    await expect(page.getByTestId("registration-title")).toHaveText(api.value[0].name);
  });

  test("upload a usage file on the ingestion screen: progress, the counts, the new batch", async ({ page }) => {
    const subscription = guid();
    const hour = new Date(Math.floor(Date.now() / 3600_000) * 3600_000 - 3 * 3600_000);
    const end = new Date(hour.getTime() + 3600_000);
    const csv =
      "subscription_id,meter_id,usage_start,usage_end,quantity,resource_uri\n" +
      `${subscription},fab6eb84-500b-4a09-a8ca-7358f8bbaea5,${hour.toISOString()},${end.toISOString()},2,` +
      `/subscriptions/${subscription}/resourceGroups/rg-e2e/providers/Microsoft.Compute/virtualMachines/vm-上傳\n`;
    await signInAs(page, "operator");
    await page.goto("/operator/ingestion");
    await expect(page.getByTestId("upload-panel")).toBeVisible();
    await hydrated(page);
    await page.getByTestId("upload-file").setInputFiles({ name: "usage.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
    await page.getByTestId("upload-submit").click();
    await expect(page.getByTestId("upload-result")).toContainText("Accepted: 1");
    await expect(page.getByTestId("batches-table").locator("tbody tr").first()).toContainText("POST /api/v1/usage");
    await screenshot(page, "operator-ingestion-upload");
    // Sent again (the list reloaded, so the file is chosen again): a duplicate, counted once.
    await page.getByTestId("upload-file").setInputFiles({ name: "usage.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
    await page.getByTestId("upload-submit").click();
    await expect(page.getByTestId("upload-result")).toContainText("Duplicates: 1");
    const subs = await (await page.request.get(`/api/v1/user-subscriptions?q=${subscription}`)).json();
    expect(subs.value.map((s: { subscription_id: string }) => s.subscription_id)).toEqual([subscription]);
    // A file that is not usage is refused with the reason.
    await page.getByTestId("upload-file").setInputFiles({ name: "notes.json", mimeType: "application/json", buffer: Buffer.from("{not json") });
    await page.getByTestId("upload-submit").click();
    await expect(page.getByTestId("upload-error")).toBeVisible();
  });

  test("finance runs a month, issues a customer's invoice, downloads the PDF, voids it; the customer sees both documents", async ({
    page,
  }) => {
    const customer = credential("customer").customer!;
    const now = new Date();
    const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 2, 1)).toISOString().slice(0, 7);
    await signInAs(page, "finance");
    await page.locator("nav.mainnav a", { hasText: "Invoices" }).click();
    await expect(page).toHaveURL(/\/finance\/invoices$/);
    await page.goto(`/finance/invoices?period=${month}`);
    await hydrated(page);
    await page.getByTestId("run").click();
    // The run goes on in the background; the page polls it and shows what it did.
    await expect(page.getByTestId("run-report")).toContainText("draft(s) made");
    const row = page.getByTestId("invoices-table").locator("tbody tr").filter({ hasText: customer });
    await expect(row).toHaveCount(1);
    await expect(row).toContainText("DRAFT");
    await screenshot(page, "finance-invoices-drafts");
    // Review the draft as a PDF, then issue it (waiving unpriced usage if it has any).
    const draftPdf = await page.request.get((await row.getByTestId("invoice-pdf").getAttribute("href"))!);
    expect(draftPdf.headers()["content-type"]).toBe("application/pdf");
    if ((await row.getByTestId("waive").count()) > 0) await row.getByTestId("waive").check();
    await row.getByTestId("issue").click();
    await expect(row.getByTestId("invoice-pdf")).toHaveText(/^SB-\d{4}-\d{6}$/);
    const number = (await row.getByTestId("invoice-pdf").textContent())!;
    const pdf = await page.request.get(`/invoices/${number}.pdf`);
    expect(pdf.status()).toBe(200);
    expect((await pdf.body()).subarray(0, 5).toString()).toBe("%PDF-");
    await screenshot(page, "finance-invoice-issued");
    // Void it: a credit note with the next number.
    await row.getByTestId("void-open").click();
    await row.getByTestId("void-confirm").click();
    await expect(page.getByTestId("invoices-table")).toContainText("Credit note");
    const api = await (await page.request.get(`/api/v1/invoices/${number}`)).json();
    expect(api.summary.status).toBe("void");
    const credit = api.summary.voided_by as string;
    expect(credit).toMatch(/^SB-\d{4}-\d{6}$/);
    await screenshot(page, "finance-invoice-voided");
    // The customer sees both in its portal and downloads them.
    await page.getByRole("button", { name: "Sign out" }).click();
    const who = credential("customer");
    const signIn = new SignInPage(page);
    await signIn.open();
    await signIn.signIn(who.email, who.password);
    await expect(page).toHaveURL(/\/portal$/);
    await expect(page.getByTestId("portal-invoices-table")).toContainText(number);
    await expect(page.getByTestId("portal-invoices-table")).toContainText(credit);
    const own = await page.request.get(`/invoices/${credit}.pdf`);
    expect(own.status()).toBe(200);
    // The voided invoice with its usage detail pages, frozen when it was issued.
    const detailRow = page.getByTestId("portal-invoices-table").locator("tbody tr").filter({ hasText: number });
    const detail = await page.request.get((await detailRow.getByTestId("portal-invoice-detail").getAttribute("href"))!);
    expect(detail.status()).toBe(200);
    expect(detail.headers()["content-disposition"]).toContain(`${number}-detail.pdf`);
    await screenshot(page, "portal-invoices");
  });

  test("finance reads customers and their mappings without any control to change them", async ({ page }) => {
    await signInAs(page, "finance");
    await page.locator("nav.mainnav a", { hasText: "Customers" }).click();
    await expect(page.getByTestId("customers-table")).toBeVisible();
    await expect(page.getByTestId("new-customer")).toHaveCount(0);
    await page.getByTestId("customer-link").first().click();
    await expect(page.getByTestId("mappings-table")).toBeVisible();
    await expect(page.getByTestId("map-form")).toHaveCount(0);
    await expect(page.getByTestId("edit-customer")).toHaveCount(0);
    await hydrated(page);
    await screenshot(page, "finance-customer");
  });
});
