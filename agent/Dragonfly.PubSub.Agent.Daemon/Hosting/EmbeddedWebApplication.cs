using Microsoft.AspNetCore.Builder;

namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>
/// The builder for our embedded HTTP servers (the agent's API, its registry mirror, the broker).
/// ASP.NET Core's defaults read appsettings.json from the working directory and, to reload it on
/// change, watch that directory and every directory below it with inotify: under systemd that is
/// "/", and an agent started in its data dir was woken for every piece it wrote. Our programs take
/// their configuration from their own flags, environment and file, so the content root is the
/// executable's folder and nothing is watched.
/// </summary>
public static class EmbeddedWebApplication
{
    public static WebApplicationBuilder CreateSlimBuilder() => WebApplication.CreateSlimBuilder(new WebApplicationOptions
    {
        // Host configuration, read before the defaults add appsettings.json (command-line form, as no flag of ours is passed here).
        Args = ["--hostBuilder:reloadConfigOnChange=false"],
        ContentRootPath = AppContext.BaseDirectory,
    });
}
