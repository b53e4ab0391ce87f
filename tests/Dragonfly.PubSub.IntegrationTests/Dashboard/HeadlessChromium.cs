using Microsoft.Playwright;

namespace Dragonfly.PubSub.IntegrationTests.Dashboard;

/// <summary>
/// Debian's Chromium, headless, driven by Playwright's bundled driver (its own node, in the build output):
/// no browser is downloaded. In secure mode the page is HTTPS with a certificate of the broker's fleet CA,
/// which the browser does not know, so certificate errors are ignored (the test's HTTP client checks the CA).
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    /// <summary>Where eng/test.sh installs it (Debian package <c>chromium</c>).</summary>
    public const string Executable = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private HeadlessChromium(IPlaywright playwright, IBrowser browser, IBrowserContext context)
    {
        _playwright = playwright;
        _browser = browser;
        Context = context;
    }

    public IBrowserContext Context { get; }

    public static async Task<HeadlessChromium> StartAsync()
    {
        if (!File.Exists(Executable))
        {
            throw new Xunit.Sdk.XunitException($"{Executable} is missing; the dashboard test needs Debian's chromium: apt-get install -y chromium (eng/test.sh installs it)");
        }
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = Executable,
                Headless = true,
                Timeout = 60_000,
                // As root in a container: Chromium's own sandbox needs namespaces it may not get.
                ChromiumSandbox = false,
                Args = ["--disable-gpu", "--disable-dev-shm-usage"],
            });
            var context = await browser.NewContextAsync(new BrowserNewContextOptions
            {
                IgnoreHTTPSErrors = true,
                ViewportSize = new ViewportSize { Width = 1440, Height = 1800 },
                Locale = "en-US",
                TimezoneId = "UTC",
            });
            return new HeadlessChromium(playwright, browser, context);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Context.DisposeAsync();
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
