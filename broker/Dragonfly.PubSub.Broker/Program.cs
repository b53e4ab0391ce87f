using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Broker.Cli;

DefaultMetrics.WithoutEventCounters();

return await BrokerCli.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable).ConfigureAwait(false);
